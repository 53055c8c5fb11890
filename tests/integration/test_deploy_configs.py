"""The shipped nats-server configs parse, every one of them fsyncs each write and enforces the service users,
and the users file is what services/embedded/nats_permissions.py renders."""

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


def example_env() -> dict[str, str]:
    """deploy/env.example as `docker compose` reads deploy/.env."""
    lines = (DEPLOY / "env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


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


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_is_accepted_by_nats_server_and_syncs_always(config: Path) -> None:
    checked = check(config, {v: example_env()[v] for v in PASSWORD_VARIABLES})
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config.read_text(), re.MULTILINE)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_includes_the_users_and_needs_every_password(config: Path) -> None:
    assert re.search(r"^include \./auth\.conf$", config.read_text(), re.MULTILINE)
    missing = PASSWORD_VARIABLES[0]
    checked = check(config, {v: "set" for v in PASSWORD_VARIABLES if v != missing})
    assert checked.returncode != 0, "nats-server started without a user's password"
    assert missing in checked.stderr + checked.stdout
