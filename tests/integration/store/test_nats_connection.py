"""The NATS connection's log lines: a connection lost is a warning, one closed on purpose is not."""

from __future__ import annotations

from pathlib import Path

import structlog

from events.store.connection import connect_nats
from services.embedded.nats_server import NatsServer
from tests.support.waiting import wait_until


async def test_a_connection_closed_on_purpose_is_not_reported_as_lost(tmp_path: Path) -> None:
    """Every stop, and every one-off connection (the launcher's, the CLI's), logged a `nats_disconnected`
    warning: noise that taught operators to ignore the one that matters."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        with structlog.testing.capture_logs() as captured:
            closing = await connect_nats(server.url, name="one-off")
            await closing.close()
            lost = await connect_nats(server.url, name="worker")
            server.kill()
            await wait_until(
                lambda: any(r["event"] == "nats_disconnected" for r in captured), "the loss said"
            )
            await lost.close()
    finally:
        server.stop()
    said = [(r["event"], r["client"], r["log_level"]) for r in captured if "client" in r]
    assert ("nats_closed", "one-off", "info") in said
    assert ("nats_disconnected", "worker", "warning") in said
    assert ("nats_disconnected", "one-off", "warning") not in said
