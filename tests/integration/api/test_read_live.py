"""Live push: one LISTEN connection fans projection commits out to server-sent event streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api import live, pg_listen
from services.api.auth import TOKENS
from tests.integration.pages.harness import Harness, read_api, wait_until

EVENTS = "/api/v1/board/events"


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def next_event(response: ClientResponse, bound: float = 5.0) -> tuple[str, Any]:
    """The next `event:`/`data:` block, or ("comment", text) for a heartbeat line."""
    raw = await asyncio.wait_for(response.content.readuntil(b"\n\n"), bound)
    block = raw.decode().strip()
    if block.startswith(":"):
        return "comment", block[1:].strip()
    fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
    return fields.get("event", "message"), json.loads(fields["data"]) if "data" in fields else None


async def open_stream(api: Harness, role: str = "command") -> ClientResponse:
    response = await api.client.get(EVENTS, headers=await api.headers(role))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5) == b"retry: 2000\n\n"
    return response


async def write_complaint(store: JetStreamEventStore) -> None:
    complaint = Complaint.receive(channel="web", description="Road under water", received_by="public",
                                  category="flooding", lat=22.70, lon=113.80)  # fmt: skip
    await AggregateStore(store, make_mapper()).save(complaint)


async def test_a_projection_commit_reaches_an_open_stream_within_one_second(api: Harness) -> None:
    response = await open_stream(api)
    try:
        kind, hello = await next_event(response)
        assert kind == "hello" and hello["listening"] is True
        await write_complaint(api.store)
        await api.project()
        committed = time.monotonic()
        kind, change = await next_event(response, bound=1.0)
        assert time.monotonic() - committed < 1.0
        assert kind == "projection"
        assert change["position"] > hello["position"]
        assert change["events"] == {"ComplaintReceived": 1}
    finally:
        response.close()


async def test_every_staff_role_may_subscribe_and_the_public_may_not(api: Harness) -> None:
    assert (await api.client.get(EVENTS)).status == 401
    for role in ("department:power", "press", "operator"):
        response = await open_stream(api, role)
        response.close()


async def test_an_idle_stream_gets_heartbeats(api: Harness) -> None:
    api.client.app[live.HUB].heartbeat = 0.1
    response = await open_stream(api)
    try:
        await next_event(response)  # hello
        assert await next_event(response, bound=2.0) == ("comment", "heartbeat")
    finally:
        response.close()


@contextlib.asynccontextmanager
async def revoked_while_streaming(api: Harness, heartbeat: float) -> AsyncIterator[str]:
    """A command token's open stream; the token is revoked before the block runs, which gets the token."""
    hub = api.client.app[live.HUB]
    hub.heartbeat = heartbeat  # the token is looked at again every heartbeat's time
    tokens = api.client.app[TOKENS]
    secret, record = await tokens.create("command", "lost tablet")
    response = await api.client.get(EVENTS, headers={"Authorization": f"Bearer {secret}"})
    assert response.status == 200
    try:
        await wait_until(lambda: hub.streams == 1, "the stream open")
        assert await tokens.revoke(record.token_id)
        yield secret
    finally:
        response.close()


async def test_a_stream_ends_once_its_token_is_revoked_and_the_next_is_refused(api: Harness) -> None:
    """A token revoked (a lost tablet) must stop receiving, not only fail its next request."""
    async with revoked_while_streaming(api, heartbeat=0.1) as secret:
        await wait_until(lambda: api.client.app[live.HUB].streams == 0, "the stream ended", bound=5.0)
    again = await api.client.get(EVENTS, headers={"Authorization": f"Bearer {secret}"})
    assert again.status == 401


async def test_a_busy_stream_also_ends_once_its_token_is_revoked(api: Harness) -> None:
    """In a surge a commit arrives more often than the heartbeat: the token is looked at all the same."""
    async with revoked_while_streaming(api, heartbeat=0.3):
        deadline = time.monotonic() + 10
        while api.client.app[live.HUB].streams:  # a commit every 0.1 s, shorter than the heartbeat
            assert time.monotonic() < deadline, "a busy stream outlived its revoked token"
            await write_complaint(api.store)
            await api.project()
            await asyncio.sleep(0.1)


async def test_a_closed_browser_is_forgotten(api: Harness) -> None:
    hub = api.client.app[live.HUB]
    hub.heartbeat = 0.05  # the next write finds the connection gone
    responses = [await open_stream(api) for _ in range(3)]
    await wait_until(lambda: hub.streams == 3, "three streams")
    for response in responses:
        response.close()
    await wait_until(lambda: hub.streams == 0, "streams closed", bound=5.0)


async def test_the_listener_comes_back_after_its_connection_is_killed(
    api: Harness, database_url: str
) -> None:
    hub = api.client.app[live.HUB]
    response = await open_stream(api)
    try:
        await next_event(response)  # hello
        admin = await asyncpg.connect(database_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1 AND datname = current_database()",
                live.APPLICATION_NAME,
            )
        finally:
            await admin.close()
        assert killed == 1
        assert await next_event(response, bound=pg_listen.PROBE_EVERY + 2) == (
            "listening",
            {"listening": False, "position": hub.position},
        )
        kind, back = await next_event(response, bound=5.0)
        assert (kind, back["listening"]) == ("listening", True)
        await write_complaint(api.store)
        await api.project()
        kind, _ = await next_event(response, bound=1.0)
        assert kind == "projection"
    finally:
        response.close()


def test_a_slow_stream_keeps_the_newest_messages_and_drops_the_oldest() -> None:
    hub = live.Hub("postgresql://unused/db", queue_size=4)
    queue = hub.subscribe()
    for position in range(1, 11):
        hub.publish(live.sse("projection", {"position": position}, event_id=position))
    assert queue.qsize() == 4 and hub.dropped == 6
    kept = [queue.get_nowait() for _ in range(4)]
    assert [json.loads(m.split("data: ")[1])["position"] for m in kept if m] == [7, 8, 9, 10]
    hub.close_streams()
    assert [queue.get_nowait() for _ in range(queue.qsize())][-1] is None  # the end, even on a full queue
