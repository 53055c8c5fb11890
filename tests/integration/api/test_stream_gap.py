"""A stream that ends before what the read models processed (acknowledged data lost) is shown, not only logged:
the board carries it for command staff and /healthz says so (ARCHITECTURE.md, failing closed). The board also
says how far behind the stream it and each worker are.

The gap is made the only way a test can without corrupting a NATS store: the read models' recorded position is
moved past the stream's end, which is what they would see after the stream lost its tail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import structlog

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api import lateness
from services.runtime.tracking import WORKERS, load_tracking
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
    with structlog.testing.capture_logs() as captured:
        health = await api.get("/healthz")
    assert health.status == 500 and health.content_type == "application/problem+json"
    assert (await health.json())["type"] == "https://levee.example/problems/stream_gap"
    # Its log line says why, as every problem's does (found by a review that ran the runbook).
    [line] = [r for r in captured if r["event"] == "http_request"]
    assert line["problem"] == "stream_gap" and f"stream ends at {ends_at}" in line["problem_detail"]


async def test_the_board_says_how_far_it_and_each_worker_are_behind_the_stream(
    api: Harness, store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = await store.count_after(0)  # a day of complaints; the projector has read them, no worker has
    board = await api.get_json("/api/v1/board", "command")
    assert board["lateness"]["read_models"] == {"events": 0, "seconds": 0.0, "late": False}
    for worker in WORKERS:
        behind = board["lateness"][worker]
        assert behind["events"] == events and behind["seconds"] >= 0 and not behind["late"]  # just written

    monkeypatch.setattr(lateness, "LATE_SECONDS", 0.0)  # any wait is late from here on
    await AggregateStore(store, make_mapper()).save(
        Complaint.receive(channel="web", description="Tree down on Elm Street", received_by="public")
    )
    last = await store.last_sequence()
    for worker in WORKERS:  # every worker catches up with the stream's end
        await store.append([(await load_tracking(store, worker)).advance_to(store, last)])

    # The board is computed at most once a second while its position stands: ask until it is fresh.
    deadline = time.monotonic() + 5
    while True:
        found = (await api.get_json("/api/v1/board", "command"))["lateness"]
        if all(found[w]["events"] == 0 for w in WORKERS) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert all(found[w] == {"events": 0, "seconds": 0.0, "late": False} for w in WORKERS)
    assert found["read_models"]["events"] == 1 and found["read_models"]["late"]  # the new complaint
    # A department's queue says the same: a stalled projector left its page "live" over a stale queue (found
    # by a review of the pages in outages).
    queue = await api.get_json("/api/v1/departments/power/queue", "command")
    assert queue["lateness"]["read_models"]["events"] == 1 and queue["lateness"]["read_models"]["late"]


async def test_a_reader_is_late_from_fifteen_seconds_behind_its_oldest_unprocessed_event(
    store: JetStreamEventStore,
) -> None:
    await AggregateStore(store, make_mapper()).save(
        Complaint.receive(channel="web", description="Tree down on Elm Street", received_by="public")
    )
    events, oldest = await store.backlog(0)
    assert events >= 1 and oldest is not None
    at_14 = await lateness.lateness(store, 0, oldest + timedelta(seconds=14))
    at_20 = await lateness.lateness(store, 0, oldest + timedelta(seconds=20))
    for reader in ("read_models", *WORKERS):  # nothing processed by anyone: all behind by the same
        assert at_14[reader] == {"events": events, "seconds": 14.0, "late": False}
        assert at_20[reader] == {"events": events, "seconds": 20.0, "late": True}
    caught_up = await lateness.lateness(store, await store.last_sequence(), oldest + timedelta(seconds=20))
    assert caught_up["read_models"] == {"events": 0, "seconds": 0.0, "late": False}
