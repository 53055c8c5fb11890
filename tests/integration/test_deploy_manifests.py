"""deploy/compose.yaml, deploy/Dockerfile and deploy/kubernetes/ describe a deployment Levee can run in.

No container engine here: the files are loaded and checked against what the code reads (services.cli.SERVICES,
Settings.from_env, the nats-server configs). Each check collects problems for a deploy directory, so a
deliberately broken copy proves the checks can fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from events.store.stream import StreamSpec
from services.cli import SERVICES
from services.embedded.nats_permissions import password_variable, permissions, publish_permissions
from services.embedded.nats_server import NATS_GOGC, nats_server_binary
from services.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYNC_ALWAYS = re.compile(r"^\s*sync_interval:\s*always\s*$", re.MULTILINE)
# Every variable Settings reads: a Settings with every optional field set writes all of them.
SETTINGS_VARS = frozenset(
    Settings(
        nats_url="nats://n:4222",
        database_url="postgresql://d/db",
        contact_hash_secret=b"s" * 32,
        metrics_port=1,
        reference_file=ROOT / "events/reference/levee.toml",
        triage_rules=ROOT / "services/triage/rules.toml",
        routing_file=ROOT / "services/dispatch/routing.toml",
        trusted_proxies=("10.0.0.0/8",),
        open311_api_keys=("k" * 16,),
        public_url="https://levee.example",
        cors_origins=("https://www.city.example",),
        rate_limits=(("intake", 2.0, 60.0),),
        shared_addresses=("100.64.0.0/10",),
    ).to_env()
)
# The secrets each service uses (services/api/resources.py, projections/app.py); the workers use neither, and
# must not be given them.
SECRETS = ("DATABASE_URL", "LEVEE_CONTACT_SECRET")
SECRETS_USED = {"api": {"DATABASE_URL", "LEVEE_CONTACT_SECRET"}, "projector": {"DATABASE_URL"}}
PLACEHOLDER = re.compile("change-me", re.IGNORECASE)
K8S_API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
# user -> its nats-server permissions, as deploy/nats/auth.conf has them
NATS_USERS = permissions(StreamSpec())
PASSWORD_VARIABLES = {user: password_variable(user) for user in publish_permissions(StreamSpec())}
NATS_USERS_SECRET = "levee-nats-users"
# The NATS nodes' own user on the route port; the routes they dial carry its password (deploy/README.md).
ROUTE_PASSWORD, ROUTES = password_variable("route"), "LEVEE_NATS_ROUTES"


# -- compose -------------------------------------------------------------------------------------------


def load_env_example(deploy: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (deploy / "env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )


def load_compose(deploy: Path) -> dict[str, Any]:
    """compose.yaml with ${VAR} filled from env.example, as `docker compose` fills it from deploy/.env."""
    example = load_env_example(deploy)

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
            where, name, {k: str(v) for k, v in service.get("environment", {}).items()}
        )
        if "./data-files:/etc/levee:ro" not in service.get("volumes", []):
            problems.append(f"{where}: deploy/data-files is not mounted read-only at /etc/levee")
        needs = {"nats-1", "nats-2", "nats-3"} | ({"postgres"} if name in ("api", "projector") else set())
        depends = service.get("depends_on", {})
        for dependency in sorted(needs):
            if depends.get(dependency, {}).get("condition") != "service_healthy":
                problems.append(f"{where}: does not wait for {dependency} to be healthy")
    if "api" in levee and "/healthz" not in " ".join(levee["api"].get("healthcheck", {}).get("test", [])):
        problems.append("api: the healthcheck does not ask /healthz")
    problems += credential_problems({name: str(s.get("environment", {}).get("NATS_URL", "")) for name, s in levee.items()},
                                    load_env_example(deploy))  # fmt: skip
    problems += nats_problems(deploy, compose)
    problems += [
        f"{name}: no healthcheck" for name, s in services.items() if not s.get("healthcheck", {}).get("test")
    ]
    return problems


def filled_in(env: dict[str, str]) -> dict[str, str]:
    """`env` with its placeholders replaced, as an operator does before deploying (Settings refuses them as
    shipped: test_the_shipped_placeholders_are_refused)."""
    return {name: PLACEHOLDER.sub("filled-in", value) for name, value in env.items()}


def environment_problems(where: str, service: str, env: dict[str, str]) -> list[str]:
    problems = [f"{where}: {var} is not a setting Levee reads" for var in sorted(set(env) - SETTINGS_VARS)]
    used = SECRETS_USED.get(service, set())
    problems += [
        f"{where}: gets {var}, which {service} never uses"
        for var in SECRETS
        if var in env and var not in used
    ]
    problems += [f"{where}: {var} is not set" for var in sorted(used) if not env.get(var)]
    try:
        settings = Settings.from_env(filled_in(env))
    except SettingsError as exc:
        return [*problems, f"{where}: {exc}"]
    if settings.nats_stream != StreamSpec().name:
        problems.append(
            f"{where}: LEVEE_STREAM={settings.nats_stream}, but the NATS users' permissions are rendered for "
            f"{StreamSpec().name}"
        )
    if settings.stream_replicas != 3:
        problems.append(f"{where}: LEVEE_STREAM_REPLICAS is not 3")
    if len((settings.nats_url or "").split(",")) != 3:
        problems.append(f"{where}: NATS_URL does not list the three nodes")
    return problems


def credential_problems(urls: dict[str, str], passwords: dict[str, str]) -> list[str]:
    """Each service connects to every node as its own NATS user with its own password, shared with no one.

    `urls` maps service -> NATS_URL as the service sees it; `passwords` maps LEVEE_NATS_<USER>_PASSWORD -> value.
    """
    problems = []
    for name, url in sorted(urls.items()):
        own = passwords.get(PASSWORD_VARIABLES.get(name, ""))
        for server in url.split(","):
            parts = urlsplit(server.strip())
            if parts.username != name or own is None or parts.password != own:
                problems.append(
                    f"{name}: NATS_URL {parts.hostname} does not use {name}'s own NATS user and password"
                )
    owners: dict[str, list[str]] = {}
    for variable, password in passwords.items():
        if variable in {*PASSWORD_VARIABLES.values(), ROUTE_PASSWORD}:
            owners.setdefault(password, []).append(variable)
    problems += [f"{' and '.join(sorted(v))} are one password" for v in owners.values() if len(v) > 1]
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
        if str(node.get("environment", {}).get("GOGC")) != NATS_GOGC:
            problems.append(f"{name}: GOGC is not {NATS_GOGC}, as `levee up` runs nats-server")
        problems += node_user_problems(deploy, name, node, mounts, config_path)
        problems += route_problems(
            name,
            {k: str(v) for k, v in node.get("environment", {}).items()},
            load_env_example(deploy).get(ROUTE_PASSWORD),
            [str(other.get("hostname", service)) for service, other in nodes.items()],
        )
        if not SYNC_ALWAYS.search(config):
            problems.append(f"{name}: {source} does not set sync_interval: always")
        store = re.search(r'store_dir:\s*"?([^"\s]+)', config)
        if store is None or not any(
            store[1].startswith(target) and src in compose.get("volumes", {})
            for target, src in mounts.items()
        ):
            problems.append(f"{name}: JetStream's store_dir is not on a named volume")
    return problems


def node_user_problems(
    deploy: Path, name: str, node: dict[str, Any], mounts: dict[str, str], config_path: str
) -> list[str]:
    """The node's config includes ./auth.conf: it is mounted beside it, and every password is in the environment."""
    problems, example = [], load_env_example(deploy)
    beside = str(Path(config_path).parent / "auth.conf")
    if (deploy / mounts.get(beside, "missing")).resolve() != (deploy / "nats" / "auth.conf").resolve():
        problems.append(f"{name}: deploy/nats/auth.conf is not mounted at {beside}, beside its config")
    environment = {k: str(v) for k, v in node.get("environment", {}).items()}
    for variable in sorted(PASSWORD_VARIABLES.values()):
        if environment.get(variable) != example.get(variable):
            problems.append(f"{name}: {variable} is not passed from .env")
    return problems


def route_problems(where: str, env: dict[str, str], password: str | None, hosts: list[str]) -> list[str]:
    """A cluster node gets the route password and LEVEE_NATS_ROUTES: every node's route port, each URL with the route
    user and that password (a listed route gets no credentials from the config's authorization block)."""
    if password is None or env.get(ROUTE_PASSWORD) != password:
        return [f"{where}: {ROUTE_PASSWORD} is not the route password"]
    routes = env.get(ROUTES, "")
    if not (routes.startswith("[") and routes.endswith("]")):
        return [f"{where}: {ROUTES} is not a list (nats-server reads the variable as one value)"]
    problems, listed = [], set()
    for url in (part.strip() for part in routes[1:-1].split(",")):
        parts = urlsplit(url)
        listed.add(parts.hostname)
        if parts.scheme != "nats-route" or parts.username != "route" or parts.password != password:
            problems.append(f"{where}: {ROUTES} {parts.hostname} does not carry the route user and password")
    return problems + [f"{where}: {ROUTES} does not list {host}" for host in sorted(set(hosts) - listed)]


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
    # What the build context holds: each COPY source is in the repository and let through the dockerignore (a
    # `#` after an instruction is one more argument, not a comment); pyproject's license files among them.
    allowed = {line[1:].strip("/*") for line in (deploy / "Dockerfile.dockerignore").read_text().splitlines()
               if line.startswith("!")}  # fmt: skip
    copied: set[str] = set()
    for line in text.splitlines():
        if line.startswith("COPY "):
            *sources, _ = [arg for arg in line.split()[1:] if not arg.startswith("--")]
            for source in sources:
                if source.startswith("#") or not (ROOT / source).exists() or source not in allowed:
                    problems.append(f"Dockerfile: COPY {source} is not in the build context")
                copied.add(source)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for needed in pyproject["project"].get("license-files", []):
        if needed not in copied:
            problems.append(f"Dockerfile: {needed} is not copied (pyproject's license-files)")
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
    served: dict[str, dict[str, Any]] = {}
    for name, deployment in by_kind.get("Deployment", {}).items():
        problems += deployment_problems(name, deployment, by_kind)
        for container in deployment["spec"]["template"]["spec"].get("containers", []):
            command = container.get("command", [])
            if command[:2] == ["levee", "serve"] and len(command) == 3:
                served[command[2]] = deployment
    problems += [f"no Deployment runs `levee serve {name}`" for name in sorted(set(SERVICES) - set(served))]
    problems += service_environment_problems(served, by_kind)
    if "api" in served:
        problems += api_problems(served["api"], by_kind.get("Service", {}))
        problems += api_stopping_problems(served["api"], by_kind)
    listed = set(yaml.safe_load((directory / "kustomization.yaml").read_text()).get("resources", []))
    present = {file for file, _ in docs}
    problems += [f"kustomization.yaml does not list {f}" for f in sorted(present - listed)]
    problems += [f"kustomization.yaml lists missing {f}" for f in sorted(listed - present)]
    return problems


def container_environment(
    container: dict[str, Any], by_kind: dict[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """The variables the container gets, as the kubelet builds them: envFrom, then env with secretKeyRef and
    $(VAR) filled in; and the Secret keys it reads one by one, as "secret/key"."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        for key, kind, field in (
            ("configMapRef", "ConfigMap", "data"),
            ("secretRef", "Secret", "stringData"),
        ):
            if key in source:
                env.update(by_kind.get(kind, {}).get(source[key]["name"], {}).get(field, {}))
    read = []
    for variable in container.get("env", []):
        if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
            read.append(f"{ref['name']}/{ref['key']}")
            env[variable["name"]] = (
                by_kind.get("Secret", {}).get(ref["name"], {}).get("stringData", {}).get(ref["key"], "")
            )
        else:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), str(variable.get("value", ""))
            )
    return env, read


def service_environment_problems(served: dict[str, dict[str, Any]], by_kind: dict[str, Any]) -> list[str]:
    """Every service's settings are valid, and it reaches NATS as its own user: it reads only its own password."""
    problems, urls = [], {}
    users = by_kind.get("Secret", {}).get(NATS_USERS_SECRET, {}).get("stringData", {})
    problems += [
        f"Secret {NATS_USERS_SECRET}: no {v}"
        for v in sorted([*PASSWORD_VARIABLES.values(), ROUTE_PASSWORD])
        if v not in users
    ]
    for name, deployment in sorted(served.items()):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env, read = container_environment(container, by_kind)
        if any(s.get("secretRef", {}).get("name") == NATS_USERS_SECRET for s in container.get("envFrom", [])):
            problems.append(f"{name}: gets every NATS password (envFrom {NATS_USERS_SECRET})")
        own = f"{NATS_USERS_SECRET}/{PASSWORD_VARIABLES.get(name)}"
        if [r for r in read if r.startswith(f"{NATS_USERS_SECRET}/")] != [own]:
            problems.append(f"{name}: reads {read} from {NATS_USERS_SECRET}, not just its own {own}")
        spliced = {
            v for v in env if any(f"$({v})" in str(e.get("value", "")) for e in container.get("env", []))
        }
        problems += environment_problems(name, name, {k: v for k, v in env.items() if k not in spliced})
        urls[name] = env.get("NATS_URL", "")
    return problems + credential_problems(urls, users)


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
        mounts = {m.get("name"): m for m in container.get("volumeMounts", [])}
        files = mounts.get("data-files", {})
        if files.get("mountPath") != "/etc/levee" or not files.get("readOnly"):
            problems.append(
                f"{where}: a city's data files (levee-data-files) are not mounted read-only at /etc/levee"
            )
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(key, {}).get("name")
                if ref is not None and ref not in by_kind.get(kind, {}):
                    problems.append(f"{where}: {kind} {ref} is not defined")
    volumes = {v.get("name"): v for v in spec.get("template", {}).get("spec", {}).get("volumes", [])}
    if volumes.get("data-files", {}).get("configMap") != {"name": "levee-data-files", "optional": True}:
        problems.append(f"Deployment {name}: no optional volume from ConfigMap levee-data-files")
    return problems


def api_problems(deployment: dict[str, Any], services: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        if not container.get(probe, {}).get("httpGet"):
            problems.append(f"api: no HTTP {probe}")
    # /readyz: up while the process answers. /healthz is 503 in a NATS or PostgreSQL outage; probing it would
    # take every pod out of the Service (readiness) or restart them all (liveness) instead of answering 503s.
    paths = {
        probe: container.get(probe, {}).get("httpGet", {}).get("path")
        for probe in ("readinessProbe", "livenessProbe")
    }
    if paths["readinessProbe"] != "/readyz":
        problems.append("api: the readiness probe does not ask /readyz")
    problems += [f"api: the {probe} asks /healthz, which fails in a dependency outage"
                 for probe, path in paths.items() if path == "/healthz"]  # fmt: skip
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


def api_stopping_problems(deployment: dict[str, Any], by_kind: dict[str, Any]) -> list[str]:
    """Replicas stopped one at a time, each unready before it closes: a rolling update or a node drain reaches
    citizens as answers, never as a proxy's 502 (found by a review of two replicas)."""
    problems = []
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        problems.append("api: the liveness probe does not ask /livez (/readyz is 503 before NATS is reached)")
    env, _ = container_environment(container, by_kind)
    drain = float(env.get("LEVEE_HTTP_DRAIN_SECONDS", "0") or 0)
    if not 0 < drain < pod.get("terminationGracePeriodSeconds", 30) - 15:
        problems.append(
            f"api: LEVEE_HTTP_DRAIN_SECONDS {drain:g} is not above 0 and 15 s inside the grace period"
        )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budgets = [b for b in by_kind.get("PodDisruptionBudget", {}).values()
               if all(labels.get(k) == v for k, v in b["spec"].get("selector", {}).get("matchLabels", {}).items())]  # fmt: skip
    if not any(b["spec"].get("minAvailable", 0) >= 1 for b in budgets):
        problems.append("api: no PodDisruptionBudget keeps one replica available")
    return problems


def _bytes(size: object) -> float:
    """A Kubernetes quantity in binary units ("18Gi") as bytes; anything else as infinitely large."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    text = str(size or "")
    if text[-2:] in units and text[:-2].isdigit():
        return int(text[:-2]) * units[text[-2:]]
    return float("inf")


def nats_values_problems(directory: Path) -> list[str]:
    values = yaml.safe_load((directory / "nats-values.yaml").read_text())
    config, env = values.get("config", {}), values.get("container", {}).get("env", {})
    cluster, jetstream = config.get("cluster", {}), config.get("jetstream", {})
    checks = {
        "cluster enabled with 3 replicas": cluster.get("enabled") is True and cluster.get("replicas") == 3,
        "JetStream enabled": jetstream.get("enabled") is True,
        "JetStream file storage on PVCs": jetstream.get("fileStore", {}).get("enabled") is True
        and jetstream.get("fileStore", {}).get("pvc", {}).get("enabled") is True,
        "sync_interval: always merged into jetstream {}": jetstream.get("merge", {}).get("sync_interval")
        == "always",
        # A string: the chart's env helper fails `helm install` on a number.
        f"GOGC {NATS_GOGC} in the container's env, as `levee up` runs nats-server": env.get("GOGC")
        == NATS_GOGC,
        "JetStream's file limit (fileStore.maxSize) at most 95% of the volume (fileStore.pvc.size)": _bytes(
            jetstream.get("fileStore", {}).get("maxSize")
        )
        <= 0.95 * _bytes(jetstream.get("fileStore", {}).get("pvc", {}).get("size")),
    }
    problems = [f"nats-values.yaml: not {what}" for what, ok in checks.items() if not ok]
    problems += [
        f"nats-values.yaml: container.env {name} is neither a string nor a map, which the chart refuses"
        for name, value in env.items()
        if not isinstance(value, str | dict)
    ]
    return problems + nats_values_user_problems(directory) + nats_values_route_problems(directory)


def nats_values_user_problems(directory: Path) -> list[str]:
    """The chart's server config has the users and permissions of nats_permissions.py, passwords from the Secret."""
    values = yaml.safe_load((directory / "nats-values.yaml").read_text())
    config = values.get("config", {})
    users = {u.get("user"): u for u in config.get("merge", {}).get("authorization", {}).get("users", [])}
    problems = [f"nats-values.yaml: no user {u}" for u in sorted(set(NATS_USERS) - set(users))]
    problems += [
        f"nats-values.yaml: user {u} is not a Levee user" for u in sorted(set(users) - set(NATS_USERS))
    ]
    env = values.get("container", {}).get("env", {})
    for user in sorted(set(users) & set(NATS_USERS)):
        variable = PASSWORD_VARIABLES[user]
        if users[user].get("permissions") != NATS_USERS[user]:
            problems.append(f"nats-values.yaml: {user}'s permissions differ from nats_permissions.py")
        if users[user].get("password") != f"<< ${variable} >>":
            problems.append(f"nats-values.yaml: {user}'s password is not the variable ${variable}")
        ref = env.get(variable, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": NATS_USERS_SECRET, "key": variable}:
            problems.append(
                f"nats-values.yaml: container.env {variable} is not {NATS_USERS_SECRET}/{variable}"
            )
    if config.get("cluster", {}).get("merge", {}).get("no_advertise") is not True:
        problems.append(
            "nats-values.yaml: cluster addresses are gossiped to clients (no_advertise is not true)"
        )
    return problems


def chart_routes(values: dict[str, Any]) -> list[str]:
    """The routes the chart (1.x, release `nats`) writes itself: each pod behind the headless service, no user."""
    replicas = values["config"]["cluster"]["replicas"]
    return [f"nats://nats-{n}.nats-headless:6222" for n in range(replicas)]


def nats_pod_environment(directory: Path) -> dict[str, str]:
    """The NATS container's variables as the chart and then the kubelet build them: POD_NAME, container.env in key
    order (the chart ranges over the map), container.patch appended to /env/-; then secretKeyRef and $(VAR) filled
    from the Secrets in secret.yaml, each $(VAR) only from variables listed before it."""
    values = yaml.safe_load((directory / "nats-values.yaml").read_text())
    container = values.get("container", {})
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    ]
    for name, value in sorted(container.get("env", {}).items()):
        if isinstance(value, str | dict):  # anything else fails the chart (`nats_values_problems` says so)
            env.append({"name": name, "value": value} if isinstance(value, str) else {"name": name, **value})
    for op in container.get("patch", []):
        assert op.get("op") == "add" and op.get("path") == "/env/-", (
            f"this test does not model the patch {op}"
        )
        env.append(op["value"])
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for _, doc in load_manifests(directory):
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return container_environment({"env": env}, by_kind)[0]


def nats_values_route_problems(directory: Path) -> list[str]:
    """The route port requires the route user, and each pod dials every node with its password from the Secret."""
    values = yaml.safe_load((directory / "nats-values.yaml").read_text())
    cluster = values.get("config", {}).get("cluster", {})
    merge, problems = cluster.get("merge", {}), []
    if merge.get("authorization") != {"user": "route", "password": f"<< ${ROUTE_PASSWORD} >>"}:
        problems.append(
            f"nats-values.yaml: the cluster does not require the route user with ${ROUTE_PASSWORD}"
        )
    if merge.get("routes") != f"<< ${ROUTES} >>":
        problems.append(
            f"nats-values.yaml: the cluster's routes are not ${ROUTES} (the chart's carry no password)"
        )
    if cluster.get("routeURLs", {}).get("password"):
        problems.append("nats-values.yaml: routeURLs.password puts the route password in the ConfigMap")
    ref = values.get("container", {}).get("env", {}).get(ROUTE_PASSWORD, {}).get("valueFrom", {})
    if ref.get("secretKeyRef") != {"name": NATS_USERS_SECRET, "key": ROUTE_PASSWORD}:
        problems.append(
            f"nats-values.yaml: container.env {ROUTE_PASSWORD} is not {NATS_USERS_SECRET}/{ROUTE_PASSWORD}"
        )
    env = nats_pod_environment(directory)
    hosts = [str(urlsplit(route).hostname) for route in chart_routes(values)]
    problems += route_problems("nats-values.yaml: the NATS pods", env, env.get(ROUTE_PASSWORD) or None, hosts)
    box = values.get("natsBox", {}).get("container", {}).get("env", {})
    admin_ref = {"name": NATS_USERS_SECRET, "key": PASSWORD_VARIABLES["admin"]}
    if (
        box.get("NATS_USER") != "admin"
        or box.get("NATS_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef") != admin_ref
    ):
        problems.append(
            "nats-values.yaml: nats-box does not connect as admin with the password from the Secret"
        )
    return problems


def chart_config(directory: Path) -> str:
    """config.merge.authorization and the cluster block as the chart writes them into nats.conf: its own cluster
    settings overwritten by config.cluster.merge (mergeOverwrite: lists and strings replace), JSON with
    `"<< X >>"` unquoted."""
    values = yaml.safe_load((directory / "nats-values.yaml").read_text())
    config = values["config"]
    cluster = {"name": "nats", "port": 6222, "no_advertise": True, "routes": chart_routes(values)}
    rendered = json.dumps(
        {"authorization": config["merge"]["authorization"], "cluster": cluster | config["cluster"]["merge"]},
        indent=2,
    )
    return re.sub(r'"<<\s+(.*?)\s+>>"', r"\1", rendered)


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


def test_nats_helm_users_and_routes_render_to_a_config_nats_server_accepts(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text("listen: 127.0.0.1:-1\n" + chart_config(DEPLOY / "kubernetes"))
    pod = nats_pod_environment(DEPLOY / "kubernetes")
    env = {"PATH": "/usr/bin:/bin"} | {
        v: pod[v] for v in [*PASSWORD_VARIABLES.values(), ROUTE_PASSWORD, ROUTES]
    }
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, env=env
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    del env[ROUTES]
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, env=env
    )
    assert ROUTES in checked.stderr + checked.stdout, (
        "the cluster block does not read its routes from the pod"
    )


# -- and broken copies do not --------------------------------------------------------------------------


def _edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(deploy: Path) -> None:
        path = deploy / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer holds {old!r}: update this breakage"
        path.write_text(text.replace(old, new, 1))

    return apply


_ROUTES_PATCH = """  patch:
  - op: add
    path: /env/-
    value:
      name: LEVEE_NATS_ROUTES
      value: """


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
    "an old NATS image": (_edit("compose.yaml", "nats:2.15-alpine", "nats:2.10-alpine"), compose_problems,
                          "older than nats:2.12"),
    "a root image": (_edit("Dockerfile", "USER 10001:10001", "USER root"), dockerfile_problems,
                     "Dockerfile: runs as root"),
    "a license left out of the image": (
        _edit("Dockerfile", "COPY pyproject.toml README.md LICENSE ./", "COPY pyproject.toml README.md ./"),
        dockerfile_problems, "Dockerfile: LICENSE is not copied"),
    "a comment after COPY": (
        _edit("Dockerfile", "COPY events ./events", "COPY events ./events  # the domain"),
        dockerfile_problems, "Dockerfile: COPY # is not in the build context"),
    "a selector that misses its pods": (
        _edit("kubernetes/dispatch.yaml", "matchLabels: {app.kubernetes.io/name: levee-dispatch}",
              "matchLabels: {app.kubernetes.io/name: levee-dispatcher}"),
        lambda d: kubernetes_problems(d / "kubernetes"), "levee-dispatch: spec.selector does not match"),
    "an API without its readiness probe": (
        _edit("kubernetes/api.yaml", "readinessProbe:", "startupProbe:"),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: no HTTP readinessProbe"),
    "an API ready only while NATS and PostgreSQL are": (
        _edit("kubernetes/api.yaml", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /healthz, port: http}"),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: the readinessProbe asks /healthz"),
    "an API closing without draining": (
        _edit("kubernetes/api.yaml", '- {name: LEVEE_HTTP_DRAIN_SECONDS, value: "10"}', '- {name: LEVEE_HTTP_DRAIN_SECONDS, value: "0"}'),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: LEVEE_HTTP_DRAIN_SECONDS 0 is not above 0"),
    "an API restarted while NATS is unreached": (
        _edit("kubernetes/api.yaml", "httpGet: {path: /livez, port: http}", "httpGet: {path: /readyz, port: http}"),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: the liveness probe does not ask /livez"),
    "an API whose replicas a node drain may take together": (
        _edit("kubernetes/api.yaml", "  minAvailable: 1", "  minAvailable: 0"),
        lambda d: kubernetes_problems(d / "kubernetes"), "api: no PodDisruptionBudget keeps one replica available"),
    "a Deployment on the wrong apiVersion": (
        _edit("kubernetes/projector.yaml", "apiVersion: apps/v1", "apiVersion: extensions/v1beta1"),
        lambda d: kubernetes_problems(d / "kubernetes"), "Deployment with apiVersion extensions/v1beta1"),
    "a compose service on another's NATS password": (
        _edit("compose.yaml", "nats://notices:${LEVEE_NATS_NOTICES_PASSWORD:?", "nats://notices:${LEVEE_NATS_API_PASSWORD:?"),
        compose_problems, "notices: NATS_URL nats-1 does not use notices's own NATS user and password"),
    "a NATS node without auth.conf beside its config": (
        _edit("compose.yaml", "      - ./nats/auth.conf:/etc/nats/auth.conf:ro", "      - ./nats/auth.conf:/etc/auth.conf:ro"),
        compose_problems, "nats-1: deploy/nats/auth.conf is not mounted at /etc/nats/auth.conf"),
    "a NATS node without a password": (
        _edit("compose.yaml", "    LEVEE_NATS_PROJECTOR_PASSWORD: ${LEVEE_NATS_PROJECTOR_PASSWORD:?set LEVEE_NATS_PROJECTOR_PASSWORD in deploy/.env}\n", ""),
        compose_problems, "nats-2: LEVEE_NATS_PROJECTOR_PASSWORD is not passed from .env"),
    "a Deployment reading settings from a ConfigMap that does not exist": (
        _edit("kubernetes/triage.yaml", "configMapRef: {name: levee-settings}", "configMapRef: {name: levee-setting}"),
        lambda d: kubernetes_problems(d / "kubernetes"), "ConfigMap levee-setting is not defined"),
    "a Deployment without the city's data files": (
        _edit("kubernetes/notices.yaml", "            - {name: data-files, mountPath: /etc/levee, readOnly: true}", ""),
        lambda d: kubernetes_problems(d / "kubernetes"), "levee-data-files) are not mounted read-only at /etc/levee"),
    "a compose service without the city's data files": (
        _edit("compose.yaml", "    - ./data-files:/etc/levee:ro", "    - ./data-files:/etc/levee"),
        compose_problems, "deploy/data-files is not mounted read-only at /etc/levee"),
    "a Deployment reading another service's NATS password": (
        _edit("kubernetes/triage.yaml", "key: LEVEE_NATS_TRIAGE_PASSWORD", "key: LEVEE_NATS_API_PASSWORD"),
        lambda d: kubernetes_problems(d / "kubernetes"), "triage: reads ['levee-nats-users/LEVEE_NATS_API_PASSWORD']"),
    "a Deployment connecting as another user": (
        _edit("kubernetes/notices.yaml", "nats://notices:$(LEVEE_NATS_NOTICES_PASSWORD)@nats-0",
              "nats://dispatch:$(LEVEE_NATS_NOTICES_PASSWORD)@nats-0"),
        lambda d: kubernetes_problems(d / "kubernetes"), "notices: NATS_URL nats-0.nats-headless does not use"),
    "two NATS users on one password": (
        _edit("kubernetes/secret.yaml", "CHANGE-ME-nats-dispatch-password", "CHANGE-ME-nats-api-password"),
        lambda d: kubernetes_problems(d / "kubernetes"),
        "LEVEE_NATS_API_PASSWORD and LEVEE_NATS_DISPATCH_PASSWORD are one password"),
    "a Deployment given every NATS password": (
        _edit("kubernetes/dispatch.yaml", "            - configMapRef: {name: levee-settings}\n",
              "            - configMapRef: {name: levee-settings}\n            - secretRef: {name: levee-nats-users}\n"),
        lambda d: kubernetes_problems(d / "kubernetes"), "dispatch: gets every NATS password"),
    "NATS values with a widened permission": (
        _edit("kubernetes/nats-values.yaml", '"levee.track.triage"', '"levee.track.>"'),
        lambda d: nats_values_problems(d / "kubernetes"), "triage's permissions differ from nats_permissions.py"),
    "NATS values with a literal password": (
        _edit("kubernetes/nats-values.yaml", "<< $LEVEE_NATS_ADMIN_PASSWORD >>", "admin"),
        lambda d: nats_values_problems(d / "kubernetes"), "admin's password is not the variable"),
    "NATS values without the admin user": (
        _edit("kubernetes/nats-values.yaml", "      - user: admin\n", "      - user: root\n"),
        lambda d: nats_values_problems(d / "kubernetes"), "nats-values.yaml: no user admin"),
    "a NATS node without the route password": (
        _edit("compose.yaml", "    LEVEE_NATS_ROUTE_PASSWORD: ${LEVEE_NATS_ROUTE_PASSWORD:?set LEVEE_NATS_ROUTE_PASSWORD in deploy/.env}\n", ""),
        compose_problems, "nats-1: LEVEE_NATS_ROUTE_PASSWORD is not the route password"),
    "a route without the route password": (
        _edit("compose.yaml", "nats-route://route:${LEVEE_NATS_ROUTE_PASSWORD}@nats-2:6222", "nats-route://nats-2:6222"),
        compose_problems, "nats-3: LEVEE_NATS_ROUTES nats-2 does not carry the route user and password"),
    "routes that miss a node": (
        _edit("compose.yaml", ", nats-route://route:${LEVEE_NATS_ROUTE_PASSWORD}@nats-3:6222]", "]"),
        compose_problems, "nats-2: LEVEE_NATS_ROUTES does not list nats-3"),
    "the route password shared with a user": (
        _edit("env.example", "LEVEE_NATS_ROUTE_PASSWORD=change-me-nats-route-password",
              "LEVEE_NATS_ROUTE_PASSWORD=change-me-nats-admin-password"),
        compose_problems, "LEVEE_NATS_ADMIN_PASSWORD and LEVEE_NATS_ROUTE_PASSWORD are one password"),
    "a NATS Secret without the route password": (
        _edit("kubernetes/secret.yaml", "  LEVEE_NATS_ROUTE_PASSWORD: CHANGE-ME-nats-route-password\n", ""),
        lambda d: kubernetes_problems(d / "kubernetes"), "Secret levee-nats-users: no LEVEE_NATS_ROUTE_PASSWORD"),
    "NATS values without route authorization": (
        _edit("kubernetes/nats-values.yaml", "      authorization:\n        user: route\n", "      authorization:\n        user: admin\n"),
        lambda d: nats_values_problems(d / "kubernetes"), "the cluster does not require the route user"),
    "NATS values with the chart's own routes": (
        _edit("kubernetes/nats-values.yaml", "      routes: << $LEVEE_NATS_ROUTES >>\n", ""),
        lambda d: nats_values_problems(d / "kubernetes"), "the cluster's routes are not $LEVEE_NATS_ROUTES"),
    "NATS values building the routes before the route password": (
        _edit("kubernetes/nats-values.yaml", _ROUTES_PATCH, "    LEVEE_NATS_ROUTES: "),  # into container.env
        lambda d: nats_values_problems(d / "kubernetes"),
        "the NATS pods: LEVEE_NATS_ROUTES nats-0.nats-headless does not carry the route user and password"),
    "nats-box without the admin's password": (
        _edit("kubernetes/nats-values.yaml", "      NATS_USER: admin\n", ""),
        lambda d: nats_values_problems(d / "kubernetes"), "nats-box does not connect as admin"),
    "NATS values whose JetStream limit is the whole volume": (
        _edit("kubernetes/nats-values.yaml", "      maxSize: 18Gi\n", "      maxSize: 20Gi\n"),
        lambda d: nats_values_problems(d / "kubernetes"), "not JetStream's file limit (fileStore.maxSize) at most"),
    "NATS values without a JetStream limit": (
        _edit("kubernetes/nats-values.yaml", "      maxSize: 18Gi\n", ""),
        lambda d: nats_values_problems(d / "kubernetes"), "not JetStream's file limit (fileStore.maxSize) at most"),
    "a NATS node without the GC target": (
        _edit("compose.yaml", '    GOGC: "25"\n', ""), compose_problems, "nats-1: GOGC is not 25"),
    "NATS values without the GC target": (
        _edit("kubernetes/nats-values.yaml", '    GOGC: "25"\n', ""),
        lambda d: nats_values_problems(d / "kubernetes"), "GOGC 25 in the container's env"),
    "NATS values with the GC target as a number": (
        _edit("kubernetes/nats-values.yaml", '    GOGC: "25"\n', "    GOGC: 25\n"),
        lambda d: nats_values_problems(d / "kubernetes"), "container.env GOGC is neither a string nor a map"),
    "a compose worker given the database": (
        _edit("compose.yaml", "      <<: *levee-env\n      NATS_URL: nats://triage:",
              "      <<: *levee-env\n      DATABASE_URL: postgresql://levee:x@postgres:5432/levee\n      NATS_URL: nats://triage:"),
        compose_problems, "levee serve triage: gets DATABASE_URL, which triage never uses"),
    "compose giving the contact secret to every service": (
        _edit("compose.yaml", "    LEVEE_STREAM_REPLICAS: \"3\"\n",
              "    LEVEE_STREAM_REPLICAS: \"3\"\n    LEVEE_CONTACT_SECRET: ${LEVEE_CONTACT_SECRET}\n"),
        compose_problems, "levee serve projector: gets LEVEE_CONTACT_SECRET, which projector never uses"),
    "a compose API without the database": (
        _edit("compose.yaml", "      DATABASE_URL: postgresql://levee:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/.env}@postgres:5432/levee\n      LEVEE_CONTACT_SECRET",
              "      LEVEE_CONTACT_SECRET"),
        compose_problems, "levee serve api: DATABASE_URL is not set"),
    "a worker Deployment given the database": (
        _edit("kubernetes/notices.yaml", "            - configMapRef: {name: levee-settings}\n",
              "            - configMapRef: {name: levee-settings}\n            - secretRef: {name: levee-database}\n"),
        lambda d: kubernetes_problems(d / "kubernetes"), "notices: gets DATABASE_URL, which notices never uses"),
    "a worker Deployment given the contact secret": (
        _edit("kubernetes/dispatch.yaml", "            - configMapRef: {name: levee-settings}\n",
              "            - configMapRef: {name: levee-settings}\n            - secretRef: {name: levee-api-secrets}\n"),
        lambda d: kubernetes_problems(d / "kubernetes"), "dispatch: gets LEVEE_CONTACT_SECRET, which dispatch never uses"),
    "a stream the NATS permissions are not rendered for": (
        _edit("kubernetes/configmap.yaml", '  LEVEE_STREAM_REPLICAS: "3"\n', '  LEVEE_STREAM: OTHER\n  LEVEE_STREAM_REPLICAS: "3"\n'),
        lambda d: kubernetes_problems(d / "kubernetes"), "LEVEE_STREAM=OTHER, but the NATS users' permissions"),
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


def service_environments() -> dict[str, dict[str, str]]:
    """Every service's variables as shipped, in compose ("compose NAME") and Kubernetes ("kubernetes NAME")."""
    found = {
        f"compose {name}": {k: str(v) for k, v in service.get("environment", {}).items()}
        for name, service in levee_services(load_compose(DEPLOY)).items()
    }
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for _, doc in load_manifests(DEPLOY / "kubernetes"):
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    for deployment in by_kind["Deployment"].values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        found[f"kubernetes {container['command'][2]}"] = container_environment(container, by_kind)[0]
    return found


@pytest.mark.parametrize("where", sorted(service_environments()))
def test_the_shipped_placeholders_are_refused(where: str) -> None:
    """env.example's change-me-... and secret.yaml's CHANGE-ME-... stop every service until replaced."""
    with pytest.raises(SettingsError, match="placeholder"):
        Settings.from_env(service_environments()[where])
