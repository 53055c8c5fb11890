"""`levee rebuild` run by hand while NATS is down stops and says so: the client alone would retry for ever."""

from __future__ import annotations

import asyncio

import pytest

from projections import rebuild
from services.embedded.ports import free_port
from services.settings import Settings


async def test_rebuild_with_nats_down_fails_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rebuild, "CONNECT_SECONDS", 1.0)
    settings = Settings(
        nats_url=f"nats://127.0.0.1:{free_port()}",
        database_url=f"postgresql://levee@127.0.0.1:{free_port()}/x",
    )
    with pytest.raises(ConnectionError, match="NATS did not answer within 1 s"):
        async with asyncio.timeout(20):  # before: still retrying when this ran out
            await rebuild.rebuild(settings, "all", lambda line: None)
