"""A stream that ends before what the read models processed (acknowledged data lost) is shown, not only logged:
the board carries it for command staff and /healthz says so (ARCHITECTURE.md, failing closed).

The gap is made the only way a test can without corrupting a NATS store: the read models' recorded position is
moved past the stream's end, which is what they would see after the stream lost its tail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.store import JetStreamEventStore
from tests.integration.pages.harness import Harness, read_api


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_a_stream_gap_is_on_the_board_and_in_healthz(api: Harness, database_url: str) -> None:
    whole = await api.get_json("/api/v1/board", "command")
    assert whole["stream_gap"] is None
    assert (await api.get("/healthz")).status == 200

    ends_at = await api.store.last_sequence()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE levee_read.projection_tracking SET position = $1 WHERE name = 'read_models'",
            ends_at + 500,
        )
    finally:
        await conn.close()
    board = await api.get_json("/api/v1/board", "command")
    assert board["stream_gap"] == {"read_models_at": ends_at + 500, "stream_ends_at": ends_at}
    health = await api.get("/healthz")
    assert health.status == 500 and health.content_type == "application/problem+json"
    assert (await health.json())["type"] == "/problems/stream-gap"
