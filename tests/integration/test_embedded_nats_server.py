"""The nats-server `levee up` starts, as a process: the garbage collector's target it runs with, how it stops, and
what it says when it cannot start."""

from __future__ import annotations

import os
import signal
import socket
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


def test_a_nats_server_that_does_not_stop_is_killed_not_left_running(tmp_path: Path) -> None:
    """Found by a review: stop() raised after SIGTERM timed out and the server went on running, its pid file
    forgotten, so the next `levee up` started a second nats-server on the same store."""
    server = NatsServer(tmp_path / "nats").start()
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # hung: SIGTERM waits for ever, SIGKILL does not
    try:
        server.stop(timeout=1.0)
    finally:
        if server.pid is not None and not server.exited():
            os.kill(pid, signal.SIGKILL)
    assert server.exited()


def test_a_nats_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    """A CI run's test cluster lost a node with only "exited with 1; see its log", and the log was gone."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = NatsServer(tmp_path / "nats", port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="address already in use") as refused:
            server.start(timeout=20)
    assert str(server.log_path) in str(refused.value)
