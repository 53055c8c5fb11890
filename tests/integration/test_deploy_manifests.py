"""deploy/compose.yaml, deploy/Dockerfile and deploy/kubernetes/ describe a deployment Levee can run in.

No container engine here: the files are loaded and checked against what the code reads (services.cli.SERVICES,
Settings.from_env, the nats-server configs). Each check collects problems for a deploy directory, so a
deliberately broken copy proves the checks can fail.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import SERVICES
from services.settings import Settings, SettingsError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYNC_ALWAYS = re.compile(r"^\s*sync_interval:\s*always\s*$", re.MULTILINE)
# Every variable Settings reads: a Settings with every optional field set writes all of them.
SETTINGS_VARS = frozenset(
    Settings(
        nats_url="nats://n:4222",
        database_url="postgresql://d/db",
        contact_hash_secret=b"s" * 32,
        metrics_port=1,
    ).to_env()
)
K8S_API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


# -- compose -------------------------------------------------------------------------------------------


def load_compose(deploy: Path) -> dict[str, Any]:
    """compose.yaml with ${VAR} filled from env.example, as `docker compose` fills it from deploy/.env."""
    example = dict(
        line.split("=", 1)
        for line in (deploy / "env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )

    def fill(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if name in example:
            return example[name]
        if kind and kind.endswith("-"):
            return default
        raise AssertionError(f"compose.yaml needs ${{{name}}}, which env.example does not set")

    return yaml.safe_load(_INTERPOLATION.sub(fill, (deploy / "compose.yaml").read_text()))


def levee_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run `levee serve NAME`, by NAME."""
    found = {}
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[:2] == ["levee", "serve"] and len(command) == 3:
            found[command[2]] = service
    return found


def compose_problems(deploy: Path) -> list[str]:
    compose = load_compose(deploy)
    services = compose["services"]
    problems: list[str] = []
    levee = levee_services(compose)
    problems += [f"no container runs `levee serve {name}`" for name in sorted(set(SERVICES) - set(levee))]
    for name, service in levee.items():
        where = f"levee serve {name}"
        dockerfile = (deploy / service.get("build", {}).get("context", ".") / service.get("build", {}).get(
            "dockerfile", "missing")).resolve()  # fmt: skip
        if dockerfile != (deploy / "Dockerfile").resolve():
            problems.append(f"{where}: not built from deploy/Dockerfile")
        problems += environment_problems(
            where, {k: str(v) for k, v in service.get("environment", {}).items()}
        )
        needs = {"nats-1", "nats-2", "nats-3"} | ({"postgres"} if name in ("api", "projector") else set())
        depends = service.get("depends_on", {})
        for dependency in sorted(needs):
            if depends.get(dependency, {}).get("condition") != "service_healthy":
                problems.append(f"{where}: does not wait for {dependency} to be healthy")
    if "api" in levee and "/healthz" not in " ".join(levee["api"].get("healthcheck", {}).get("test", [])):
        problems.append("api: the healthcheck does not ask /healthz")
    problems += nats_problems(deploy, compose)
    problems += [
        f"{name}: no healthcheck" for name, s in services.items() if not s.get("healthcheck", {}).get("test")
    ]
    return problems


def environment_problems(where: str, env: dict[str, str]) -> list[str]:
    problems = [f"{where}: {var} is not a setting Levee reads" for var in sorted(set(env) - SETTINGS_VARS)]
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        return [*problems, f"{where}: {exc}"]
    if settings.stream_replicas != 3:
        problems.append(f"{where}: LEVEE_STREAM_REPLICAS is not 3")
    if len((settings.nats_url or "").split(",")) != 3:
        problems.append(f"{where}: NATS_URL does not list the three nodes")
    if settings.database_url is None or settings.contact_hash_secret is None:
        problems.append(f"{where}: DATABASE_URL and LEVEE_CONTACT_SECRET must be set")
    return problems


def nats_problems(deploy: Path, compose: dict[str, Any]) -> list[str]:
    nodes = {n: s for n, s in compose["services"].items() if str(s.get("image", "")).startswith("nats:")}
    problems = [] if len(nodes) == 3 else [f"{len(nodes)} NATS nodes, not 3"]
    for name, node in sorted(nodes.items()):
        version = re.match(r"nats:(\d+)\.(\d+)", node["image"])
        if version is None or (int(version[1]), int(version[2])) < (2, 12):
            problems.append(f"{name}: image {node['image']} is older than nats:2.12")
        config_path = node.get("command", [None, None])[1]
        mounts = dict(reversed(str(v).split(":")[:2]) for v in node.get("volumes", []))
        source = mounts.get(config_path)
        if source is None:
            problems.append(f"{name}: the --config file is not mounted")
            continue
        config = (deploy / source).read_text()
        if not SYNC_ALWAYS.search(config):
            problems.append(f"{name}: {source} does not set sync_interval: always")
        store = re.search(r'store_dir:\s*"?([^"\s]+)', config)
        if store is None or not any(
            store[1].startswith(target) and src in compose.get("volumes", {})
            for target, src in mounts.items()
        ):
            problems.append(f"{name}: JetStream's store_dir is not on a named volume")
    return problems


def dockerfile_problems(deploy: Path) -> list[str]:
    text = (deploy / "Dockerfile").read_text()
    problems = []
    if not re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE):
        problems.append("Dockerfile: not FROM python:3.11-slim")
    if not re.search(r"pip install \.", text):
        problems.append("Dockerfile: does not `pip install .`")
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: runs as root")
    return problems


# -- kubernetes ----------------------------------------------------------------------------------------


def load_manifests(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name in ("nats-values.yaml", "kustomization.yaml"):
            continue
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def kubernetes_problems(directory: Path) -> list[str]:
    docs = load_manifests(directory)
    problems: list[str] = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for file, doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if K8S_API_VERSIONS.get(kind) != doc.get("apiVersion"):
            problems.append(f"{file}: {kind} with apiVersion {doc.get('apiVersion')}")
        if not name:
            problems.append(f"{file}: a {kind} without metadata.name")
        by_kind.setdefault(str(kind), {})[str(name)] = doc
    env: dict[str, str] = {}
    for config_map in by_kind.get("ConfigMap", {}).values():
        env.update(config_map.get("data", {}))
    for secret in by_kind.get("Secret", {}).values():
        env.update(secret.get("stringData", {}))
    served: dict[str, dict[str, Any]] = {}
    for name, deployment in by_kind.get("Deployment", {}).items():
        problems += deployment_problems(name, deployment, by_kind)
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            command = container.get("command", [])
            if command[:2] == ["levee", "serve"] and len(command) == 3:
                served[command[2]] = deployment
    problems += [f"no Deployment runs `levee serve {name}`" for name in sorted(set(SERVICES) - set(served))]
    problems += environment_problems("levee-settings + levee-secrets", env)
    if "api" in served:
        problems += api_problems(served["api"], by_kind.get("Service", {}))
    listed = set(yaml.safe_load((directory / "kustomization.yaml").read_text()).get("resources", []))
    present = {file for file, _ in docs}
    problems += [f"kustomization.yaml does not list {f}" for f in sorted(present - listed)]
    problems += [f"kustomization.yaml lists missing {f}" for f in sorted(listed - present)]
    return problems


def deployment_problems(name: str, deployment: dict[str, Any], by_kind: dict[str, Any]) -> list[str]:
    problems = []
    spec = deployment.get("spec", {})
    selector = spec.get("selector", {}).get("matchLabels", {})
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"Deployment {name}: spec.selector does not match the template's labels")
    containers = spec.get("template", {}).get("spec", {}).get("containers", [])
    if not containers:
        problems.append(f"Deployment {name}: no containers")
    for container in containers:
        where = f"Deployment {name} container {container.get('name')}"
        if not container.get("image"):
            problems.append(f"{where}: no image")
        if container.get("command", [])[:2] != ["levee", "serve"]:
            problems.append(f"{where}: command is not `levee serve NAME`")
        resources = container.get("resources", {})
        if not resources.get("requests") or not resources.get("limits"):
            problems.append(f"{where}: no resource requests and limits")
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(key, {}).get("name")
                if ref is not None and ref not in by_kind.get(kind, {}):
                    problems.append(f"{where}: {kind} {ref} is not defined")
    return problems


def api_problems(deployment: dict[str, Any], services: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        if not container.get(probe, {}).get("httpGet"):
            problems.append(f"api: no HTTP {probe}")
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        problems.append("api: the readiness probe does not ask /healthz")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    ports = {p.get("name") for p in container.get("ports", [])} | {
        p["containerPort"] for p in container.get("ports", [])
    }
    fronting = [
        s for s in services.values() if s["spec"].get("selector") and
        all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
    ]  # fmt: skip
    if not fronting:
        problems.append("api: no Service selects the API's pods")
    for service in fronting:
        for port in service["spec"].get("ports", []):
            if port.get("targetPort") not in ports:
                problems.append(
                    f"Service {service['metadata']['name']}: targetPort {port.get('targetPort')} is no API port"
                )
    return problems


def nats_values_problems(directory: Path) -> list[str]:
    config = yaml.safe_load((directory / "nats-values.yaml").read_text()).get("config", {})
    cluster, jetstream = config.get("cluster", {}), config.get("jetstream", {})
    checks = {
        "cluster enabled with 3 replicas": cluster.get("enabled") is True and cluster.get("replicas") == 3,
        "JetStream enabled": jetstream.get("enabled") is True,
        "JetStream file storage on PVCs": jetstream.get("fileStore", {}).get("enabled") is True
        and jetstream.get("fileStore", {}).get("pvc", {}).get("enabled") is True,
        "sync_interval: always merged into jetstream {}": jetstream.get("merge", {}).get("sync_interval")
        == "always",
    }
    return [f"nats-values.yaml: not {what}" for what, ok in checks.items() if not ok]


# -- the shipped files pass ----------------------------------------------------------------------------


def test_compose_runs_every_service_on_a_three_node_cluster() -> None:
    assert compose_problems(DEPLOY) == []
    assert set(levee_services(load_compose(DEPLOY))) == set(SERVICES)


def test_dockerfile_builds_a_non_root_python_image() -> None:
    assert dockerfile_problems(DEPLOY) == []


def test_kubernetes_manifests_are_complete_and_consistent() -> None:
    assert kubernetes_problems(DEPLOY / "kubernetes") == []


def test_nats_helm_values_make_a_durable_three_node_jetstream_cluster() -> None:
    assert nats_values_problems(DEPLOY / "kubernetes") == []


# -- and broken copies do not --------------------------------------------------------------------------


def _edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(deploy: Path) -> None:
        path = deploy / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer holds {old!r}: update this breakage"
        path.write_text(text.replace(old, new, 1))

    return apply


BREAKAGES: dict[str, tuple[Callable[[Path], None], Callable[[Path], list[str]], str]] = {
    "a node without fsync always": (
        _edit("nats/cluster-node-2.conf", "  sync_interval: always", "  sync_interval: 2m"), compose_problems,
        "nats-2: ./nats/cluster-node-2.conf does not set sync_interval: always"),
    "a service missing": (
        _edit("compose.yaml", '["levee", "serve", "notices"]', '["levee", "serve", "api"]'), compose_problems,
        "no container runs `levee serve notices`"),
    "a variable Settings does not read": (
        _edit("compose.yaml", "LEVEE_STREAM_REPLICAS:", "LEVEE_REPLICAS:"), compose_problems,
        "LEVEE_REPLICAS is not a setting Levee reads"),
    "an invalid setting": (
        _edit("env.example", "LEVEE_CONTACT_SECRET=change-me-contact-secret-at-least-32-characters",
              "LEVEE_CONTACT_SECRET=short"), compose_problems, "LEVEE_CONTACT_SECRET is too short"),
    "an old NATS image": (_edit("compose.yaml", "nats:2.12-alpine", "nats:2.10-alpine"), compose_problems,
                          "older than nats:2.12"),
    "a root image": (_edit("Dockerfile", "USER 10001:10001", "USER root"), dockerfile_problems,
                     "Dockerfile: runs as root"),
    "a selector that misses its pods": (
        _edit("kubernetes/dispatch.yaml", "matchLabels: {app.kubernetes.io/name: levee-dispatch}",
              "matchLabels: {app.kubernetes.io/name: levee-dispatcher}"),
        lambda d: kubernetes_problems(d / "kubernetes"), "levee-dispatch: spec.selector does not match"),
    "an API without its readiness probe": (
        _edit("kubernetes/api.yaml", "readinessProbe:", "startupProbe:"),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: no HTTP readinessProbe"),
    "a Deployment on the wrong apiVersion": (
        _edit("kubernetes/projector.yaml", "apiVersion: apps/v1", "apiVersion: extensions/v1beta1"),
        lambda d: kubernetes_problems(d / "kubernetes"), "Deployment with apiVersion extensions/v1beta1"),
    "NATS values without sync always": (
        _edit("kubernetes/nats-values.yaml", "sync_interval: always", "sync_interval: 2m"),
        lambda d: nats_values_problems(d / "kubernetes"), "sync_interval: always merged"),
}  # fmt: skip


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_is_caught(breakage: str, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy, ignore=shutil.ignore_patterns(".env"))
    break_it, check, expected = BREAKAGES[breakage]
    break_it(deploy)
    problems = check(deploy)
    assert any(expected in problem for problem in problems), problems
