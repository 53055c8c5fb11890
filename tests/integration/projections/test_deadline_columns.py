"""The board's deadlines are the ones the deadline watcher escalates on: a re-dispatch's new accept-by, the
resolve clock from sign-for, an agreed time, a reopen's fresh clock; the same rows live and rebuilt.

Deadline lengths are the packaged reference data's: P2 accept 1 h / resolve 24 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from events.complaint import Complaint
from events.deadlines import fold_all
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.rebuild import rebuild_schema
from services.api.read_models import queries
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.snapshot import snapshot

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _assessed() -> Complaint:
    """A P2 case whose assessment set short deadlines (10 min / 20 min), unlike any the department gets."""
    c = Complaint.receive(
        channel="hotline", description="Water main burst", received_by="op", category="water_outage",
        lat=22.70, lon=113.80, reporter_sealed="c2VhbGVk", contact_hash="ab" * 32,
    )  # fmt: skip
    c.validate()
    now = datetime.now(UTC)
    c.assess_priority(60, "P2", [], now + timedelta(minutes=10), now + timedelta(minutes=20))
    return c


def _script() -> dict[str, Complaint]:
    redispatched = _assessed()
    redispatched.dispatch("water", by="dispatch-rules", reason="route")
    redispatched.return_dispatch("water", "not ours")
    redispatched.dispatch("drainage", by="cmd-wu", reason="re-dispatch")

    signed = _assessed()
    signed.dispatch("water", by="dispatch-rules", reason="route")
    signed.accept("water")

    agreed = _assessed()
    agreed.dispatch("water", by="dispatch-rules", reason="route")
    agreed.accept("water")
    agreed.agree_resolution_time(datetime.now(UTC) + 3 * HOUR, datetime.now(UTC), approved_by_command=True)

    reopened = _assessed()
    reopened.dispatch("water", by="dispatch-rules", reason="route")
    reopened.accept("water")
    reopened.resolve("water", "Valve closed")
    reopened.record_follow_up(True, "not_satisfied", "Still no water")
    reopened.reopen("Still no water")
    return {"redispatched": redispatched, "signed": signed, "agreed": agreed, "reopened": reopened}


async def _project(store: JetStreamEventStore, make_runner: MakeRunner) -> dict[str, list[Any]]:
    """Save the script's complaints, project them event by event; each complaint's events by name."""
    cases = _script()
    history = {name: list(c.pending_events) for name, c in cases.items()}
    repository = AggregateStore(store, make_mapper())
    for c in cases.values():
        await repository.save(c)
    runner = await make_runner(batch_size=1)  # each event its own batch: every deadline read from the row
    await runner.catch_up()
    return history


async def _row(pg: asyncpg.Connection, events: list[Any]) -> asyncpg.Record:
    return await pg.fetchrow("SELECT * FROM levee_read.complaints WHERE id = $1", events[0].originator_id)


def _at(events: list[Any], kind: str) -> datetime:
    """When the last event of `kind` happened."""
    return next(e.timestamp for e in reversed(events) if type(e).__name__ == kind)


async def test_after_a_re_dispatch_the_board_shows_the_new_departments_accept_by(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    history = await _project(store, make_runner)
    events = history["redispatched"]
    row = await _row(pg, events)
    assert row["department"] == "drainage"
    assert row["accept_by"] == _at(events, "ComplaintDispatched") + HOUR and row["resolve_by"] is None
    # Past the assessment's 10 minutes the new department is still in time: not overdue, not escalated.
    [queued], _ = await queries.department_queue(
        pg, "drainage", now=datetime.now(UTC) + timedelta(minutes=30)
    )
    assert not queued["overdue"] and 1500 < queued["seconds_to_accept"] <= 1800


async def test_after_sign_for_resolve_by_runs_from_the_accept(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    history = await _project(store, make_runner)
    row = await _row(pg, history["signed"])
    assert row["accept_by"] is None
    assert row["accepted_at"] == _at(history["signed"], "DispatchAccepted")
    assert row["resolve_by"] == row["accepted_at"] + DAY


async def test_an_agreed_time_is_the_resolve_by_and_counts_for_overdue(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    history = await _project(store, make_runner)
    row = await _row(pg, history["agreed"])
    assert row["resolve_by"] == row["agreed_resolution_at"]
    late = datetime.now(UTC) + 4 * HOUR  # past the agreed 3 h, well within the level's 24 h
    overdue = {r["id"] for r in await queries.overdue_list(pg, now=late)}
    assert row["id"] in overdue
    [case] = (await queries.list_complaints(pg, status="accepted", overdue=True, now=late))["items"]
    assert case["id"] == row["id"]


async def test_a_reopened_case_gets_a_new_resolve_by_and_is_not_overdue_at_once(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    history = await _project(store, make_runner)
    events = history["reopened"]
    row = await _row(pg, events)
    assert row["status"] == "reopened"
    assert row["resolve_by"] == _at(events, "ComplaintReopened") + DAY
    an_hour_on = datetime.now(UTC) + HOUR  # long past the assessment's 20 minutes
    assert row["id"] not in {r["id"] for r in await queries.overdue_list(pg, now=an_hour_on)}


async def test_the_rows_deadlines_are_the_watchers_live_and_rebuilt(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    history = await _project(store, make_runner)
    for events in history.values():
        row = await _row(pg, events)
        watcher = fold_all(events[0].originator_id, events)
        assert (row["accept_by"], row["resolve_by"]) == (
            watcher.open_due("accept"),
            watcher.open_due("resolve"),
        )
    rebuilt = await rebuild_schema(store, pg, swap=False)  # one batch: every row's updates folded in memory
    assert await snapshot(pg, rebuilt) == await snapshot(pg)
