"""The shipped nats-server configs parse, and every one of them fsyncs each write."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from services.embedded.nats_server import nats_server_binary

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "nats").glob("*.conf"))


def test_there_are_single_node_and_cluster_configs() -> None:
    names = {c.name for c in CONFIGS}
    assert "single-node.conf" in names
    assert {f"cluster-node-{n}.conf" for n in (1, 2, 3)} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_config_is_accepted_by_nats_server_and_syncs_always(config: Path) -> None:
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config.read_text(), re.MULTILINE)
