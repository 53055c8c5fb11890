"""Command staff re-drive a dead letter through the API (and `levee deadletters`), against real NATS and
PostgreSQL: the worker applies it once, the read model shows the retry's state, a second ask is 409, a retry
that fails again is a new dead letter and the worker carries on, and NATS down is a 503."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.rebuild import rebuild_schema
from services import cli_deadletters
from services.api import keys
from services.embedded.nats_server import NatsServer
from services.runtime.worker import Worker
from services.settings import Settings
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import open_staff
from tests.integration.pages.harness import Harness, read_api
from tests.integration.projections.snapshot import snapshot
from tests.integration.runtime.test_redrive import Cause, position_of
from tests.support.toy import Counter, Tally
from tests.support.toy import mapper as toy_mapper
from tests.support.waiting import wait_until

RETRY = "/api/v1/dead-letters/{worker}/{position}/retry"


@dataclass
class Desk:
    harness: Harness
    store: JetStreamEventStore
    cause: Cause
    toys: AggregateStore

    async def worker_drains(self) -> None:
        """The toy worker runs (a fresh instance each time: a restart) until nothing is left, then the
        projector catches up."""
        worker = Worker("toy", self.store, self.toys, {Counter.Started: self.cause.handle}, max_attempts=2)
        await worker.start()
        async with asyncio.timeout(60):
            while await worker.process_batch():
                pass
        await self.harness.project()

    async def retry(
        self, position: int, role: str | None = "command", worker: str = "toy"
    ) -> tuple[int, Any]:
        response = await self.harness.client.post(
            RETRY.format(worker=worker, position=position), headers=await self.harness.headers(role)
        )
        return response.status, await response.json(content_type=None)

    async def rows(self) -> dict[int, dict[str, Any]]:
        page = await self.harness.get_json("/api/v1/dead-letters", "command")
        return {row["event_position"]: row for row in page["items"] if row["worker"] == "toy"}

    async def tally(self) -> list[str]:
        return (await self.toys.get(Tally.create_id(), Tally)).seen


@pytest.fixture
async def desk(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Desk]:
    async with read_api(store, nats_url, database_url) as harness:
        toys = AggregateStore(store, toy_mapper())
        await toys.save(Tally())
        yield Desk(harness, store, Cause("flaky", "stubborn"), toys)


async def test_command_retries_a_dead_letter_once_the_cause_is_fixed(desk: Desk) -> None:
    await desk.toys.save(Counter(name="flaky"))
    await desk.worker_drains()
    flaky = await position_of(desk.store, "flaky")
    [row] = (await desk.rows()).values()
    assert row["retry_state"] is None and row["retry_position"] is None
    assert (await desk.harness.get_json("/api/v1/board", "command"))["counts"]["dead_letters"] == 1

    desk.cause.failing.discard("flaky")  # the fix is deployed
    status, asked = await desk.retry(flaky)
    assert status == 202, asked
    assert (asked["worker"], asked["event_position"], asked["dead_letter_position"]) == (
        "toy", flaky, row["position"])  # fmt: skip
    assert asked["position"] > row["position"]
    status, pending = await desk.retry(flaky)
    assert (status, pending["code"]) == (409, "retry_pending")
    await desk.harness.project()
    row = (await desk.rows())[flaky]
    assert (row["retry_state"], row["retry_position"], row["retry_requested_by"]) == (
        "pending", asked["position"], "test command")  # fmt: skip
    assert row["retry_requested_at"]

    await desk.worker_drains()
    assert await desk.tally() == ["flaky"]
    row = (await desk.rows())[flaky]
    assert row["retry_state"] == "succeeded" and row["retry_succeeded_at"] and row["retry_failed_at"] is None
    board = await desk.harness.get_json("/api/v1/board", "command")
    assert board["counts"]["dead_letters"] == 0
    assert board["dead_letters"][0]["retry_state"] == "succeeded"
    status, again = await desk.retry(flaky)
    assert (status, again["code"]) == (409, "already_retried")
    assert again["type"].endswith("already_retried")

    await desk.worker_drains()  # a restart after the commit applies nothing twice
    assert await desk.tally() == ["flaky"]


async def test_a_retry_that_fails_again_shows_failure_and_the_worker_goes_on(desk: Desk) -> None:
    await desk.toys.save(Counter(name="stubborn"))
    await desk.worker_drains()
    stubborn = await position_of(desk.store, "stubborn")
    status, asked = await desk.retry(stubborn)  # the cause is not fixed
    assert status == 202
    await desk.toys.save(Counter(name="later"))
    await desk.worker_drains()

    assert await desk.tally() == ["later"]
    page = (await desk.harness.get_json("/api/v1/dead-letters", "command"))["items"]
    newer, older = page
    assert (older["retry_state"], older["retry_position"], older["retry_failed_position"]) == (
        "failed", asked["position"], newer["position"])  # fmt: skip
    assert older["retry_failed_at"] and older["retry_succeeded_at"] is None
    assert (newer["retry_of"], newer["attempts"], newer["retry_state"]) == (older["position"], 4, None)
    assert "stubborn" in newer["error"]
    assert (await desk.harness.get_json("/api/v1/board", "command"))["counts"]["dead_letters"] == 1

    desk.cause.failing.clear()
    status, second = await desk.retry(stubborn)  # the newer dead letter is the one retried now
    assert (status, second["dead_letter_position"]) == (202, newer["position"])
    await desk.worker_drains()
    assert sorted(await desk.tally()) == ["later", "stubborn"]
    rows = {
        r["position"]: r for r in (await desk.harness.get_json("/api/v1/dead-letters", "command"))["items"]
    }
    assert (rows[older["position"]]["retry_state"], rows[newer["position"]]["retry_state"]) == (
        "failed", "succeeded")  # fmt: skip


async def test_a_rebuild_gives_the_dead_letters_retry_states_the_live_run_gave(
    desk: Desk, database_url: str
) -> None:
    """In one rebuild batch a dead letter, its request and its outcome meet: the row still ends as live."""
    await desk.toys.save(Counter(name="stubborn"))
    await desk.toys.save(Counter(name="flaky"))
    await desk.worker_drains()
    await desk.retry(await position_of(desk.store, "stubborn"))
    desk.cause.failing.discard("flaky")
    await desk.retry(await position_of(desk.store, "flaky"))
    await desk.worker_drains()
    conn = await asyncpg.connect(database_url)
    try:
        rebuilt = await rebuild_schema(desk.store, conn, swap=False)
        live = (await snapshot(conn))["dead_letters"]
        assert len(live) == 3 and (await snapshot(conn, rebuilt))["dead_letters"] == live
    finally:
        await conn.close()


async def test_retry_refusals(desk: Desk) -> None:
    await desk.toys.save(Counter(name="fine"))
    await desk.worker_drains()
    fine = await position_of(desk.store, "fine")
    for position, worker in ((fine, "toy"), (fine, "dispatch"), (10**9, "toy"), (0, "toy")):
        status, problem = await desk.retry(position, worker=worker)
        assert (status, problem["code"]) == (404, "not_found"), (position, worker, problem)
    for worker in ("Toy", "toy.x", "%3E", "t" * 65):
        status, _ = await desk.retry(fine, worker=worker)
        assert status == 404, worker
    for role, refused in ((None, 401), ("operator", 403), ("press", 403), ("department:roads", 403)):
        status, _ = await desk.retry(fine, role)
        assert status == refused, role
    response = await desk.harness.client.post(
        RETRY.format(worker="toy", position=fine), json={"force": True},
        headers=await desk.harness.headers("command"),
    )  # fmt: skip
    assert response.status == 422


async def test_the_cli_lists_dead_letters_and_asks_for_a_retry(
    desk: Desk, nats_url: str, database_url: str
) -> None:
    await desk.toys.save(Counter(name="flaky"))
    await desk.worker_drains()
    flaky = await position_of(desk.store, "flaky")
    settings = Settings(nats_url=nats_url, database_url=database_url, nats_stream=desk.store.spec.name)
    listing = io.StringIO()
    assert await cli_deadletters.list_dead_letters(settings, out=listing) == 0
    [header, line, error] = listing.getvalue().splitlines()
    assert header.split()[:3] == ["DEAD_LETTER", "WORKER", "EVENT_POSITION"]
    assert line.split()[1:3] == ["toy", str(flaky)] and "cannot digest flaky" in error

    desk.cause.failing.discard("flaky")
    said = io.StringIO()
    assert await cli_deadletters.retry_dead_letter(settings, "toy", flaky, by="cli:ops", out=said) == 0
    assert f"event {flaky}" in said.getvalue() and "retry requested" in said.getvalue()
    assert await cli_deadletters.retry_dead_letter(settings, "toy", flaky, by="cli:ops") == 1  # pending
    assert await cli_deadletters.retry_dead_letter(settings, "toy.>", flaky, by="cli:ops") == 2
    await desk.worker_drains()
    assert await desk.tally() == ["flaky"]
    listing = io.StringIO()
    await cli_deadletters.list_dead_letters(settings, out=listing)
    assert "succeeded" in listing.getvalue()


async def test_retry_is_a_503_with_retry_after_while_nats_is_down(
    make_client: MakeClient, own_nats_server: NatsServer
) -> None:
    client = await make_client(nats_url=own_nats_server.url)
    staff = await open_staff(client)
    await asyncio.to_thread(own_nats_server.kill)
    link = client.app[keys.NATS_LINK]
    assert link.client is not None
    await wait_until(lambda: not link.client.is_connected, "the API to see NATS gone")  # type: ignore[union-attr]
    response = await client.post(
        RETRY.format(worker="triage", position=5),
        headers={"Authorization": f"Bearer {staff.tokens['command']}"},
    )
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Content-Type"].startswith("application/problem+json")
