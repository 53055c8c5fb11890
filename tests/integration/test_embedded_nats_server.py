"""The nats-server `levee up` starts, as a process: the garbage collector's target it runs with."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.embedded.nats_server import NATS_GOGC, NatsServer


def environment_of(pid: int | None) -> dict[str, str]:
    assert pid is not None
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


@pytest.mark.parametrize(("operator_set", "runs_with"), [(None, NATS_GOGC), ("", NATS_GOGC), ("80", "80")])
def test_nats_server_runs_with_levees_gc_target_unless_the_operator_set_one(
    operator_set: str | None, runs_with: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if operator_set is None:
        monkeypatch.delenv("GOGC", raising=False)
    else:
        monkeypatch.setenv("GOGC", operator_set)
    assert (
        NATS_GOGC == "25"
    )  # what deploy/ sets for every node too (tests/integration/test_deploy_manifests.py)
    server = NatsServer(tmp_path / "nats").start()
    try:
        assert environment_of(server.pid)["GOGC"] == runs_with
    finally:
        server.stop()
