"""The shipped nats-server configs parse, every one of them fsyncs each write and enforces the service users,
the cluster nodes require the route user, and the users file is what services/embedded/nats_permissions.py
renders."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from events.store.stream import StreamSpec
from services.embedded.nats_permissions import auth_conf, password_variable, publish_permissions
from services.embedded.nats_server import nats_server_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
AUTH = DEPLOY / "nats" / "auth.conf"
# The server configs; auth.conf is the users block they include.
CONFIGS = sorted(c for c in (DEPLOY / "nats").glob("*.conf") if c != AUTH)
PASSWORD_VARIABLES = sorted(password_variable(user) for user in publish_permissions(StreamSpec()))
CLUSTER_CONFIGS = [c for c in CONFIGS if c.name.startswith("cluster-node-")]
# The cluster nodes' own user on the route port, and the routes that carry its password.
ROUTE_PASSWORD, ROUTES = password_variable("route"), "LEVEE_NATS_ROUTES"
MAX_FILE_STORE = "LEVEE_NATS_MAX_FILE_STORE"  # each cluster node's JetStream limit (compose: one shared disk)


def example_env() -> dict[str, str]:
    """deploy/env.example as `docker compose` reads deploy/.env."""
    lines = (DEPLOY / "env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def server_env() -> dict[str, str]:
    """Every variable the shipped configs read, as compose gives the nodes from env.example."""
    example = example_env()
    routes = ", ".join(f"nats-route://route:{example[ROUTE_PASSWORD]}@nats-{n}:6222" for n in (1, 2, 3))
    return {v: example[v] for v in [*PASSWORD_VARIABLES, ROUTE_PASSWORD, MAX_FILE_STORE]} | {
        ROUTES: f"[{routes}]"
    }


def check(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEVEE_NATS_")} | env
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=environment,
    )


def test_there_are_single_node_and_cluster_configs() -> None:
    names = {c.name for c in CONFIGS}
    assert "single-node.conf" in names
    assert {f"cluster-node-{n}.conf" for n in (1, 2, 3)} <= names


def test_committed_auth_conf_is_what_the_permissions_table_renders() -> None:
    assert AUTH.read_text() == auth_conf(), (
        "deploy/nats/auth.conf is out of date with services/embedded/nats_permissions.py; regenerate it with\n"
        "  python -m services.embedded.nats_permissions > deploy/nats/auth.conf"
    )


def test_env_example_sets_a_password_for_every_nats_user() -> None:
    example = example_env()
    assert [v for v in PASSWORD_VARIABLES if v not in example] == []
    assert all(example[v].startswith("change-me") for v in PASSWORD_VARIABLES)
    assert len({example[v] for v in PASSWORD_VARIABLES}) == len(PASSWORD_VARIABLES), "one password per user"


def test_env_example_sets_a_route_password_of_its_own() -> None:
    example = example_env()
    assert example[ROUTE_PASSWORD].startswith("change-me")
    assert example[ROUTE_PASSWORD] not in {example[v] for v in PASSWORD_VARIABLES}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_is_accepted_by_nats_server_and_syncs_always(config: Path) -> None:
    checked = check(config, server_env())
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config.read_text(), re.MULTILINE)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_includes_the_users_and_needs_every_password(config: Path) -> None:
    assert re.search(r"^include \./auth\.conf$", config.read_text(), re.MULTILINE)
    missing = PASSWORD_VARIABLES[0]
    checked = check(config, {v: value for v, value in server_env().items() if v != missing})
    assert checked.returncode != 0, "nats-server started without a user's password"
    assert missing in checked.stderr + checked.stdout


@pytest.mark.parametrize("config", CLUSTER_CONFIGS, ids=lambda c: c.name)
def test_cluster_node_requires_the_route_user_and_reads_its_routes_from_the_environment(config: Path) -> None:
    cluster = re.search(r"^cluster \{\n(.*?)^\}", config.read_text(), re.MULTILINE | re.DOTALL)
    assert cluster is not None
    assert re.search(
        rf"^\s*authorization \{{ user: route, password: \${ROUTE_PASSWORD} \}}$", cluster[1], re.MULTILINE
    ), "the route port must require the route user"
    assert re.search(rf"^\s*routes: \${ROUTES}$", cluster[1], re.MULTILINE), (
        "routes must come from the environment"
    )


@pytest.mark.parametrize("missing", [ROUTE_PASSWORD, ROUTES, MAX_FILE_STORE])
@pytest.mark.parametrize("config", CLUSTER_CONFIGS, ids=lambda c: c.name)
def test_cluster_node_needs_the_route_password_and_routes(config: Path, missing: str) -> None:
    checked = check(config, {v: value for v, value in server_env().items() if v != missing})
    assert checked.returncode != 0, f"nats-server started without {missing}"
    assert missing in checked.stderr + checked.stdout
