"""Since when, and why, a case is with command: kept on the row by the projector (migration 013), it must
say what the board used to look up in each case's timeline, live, rebuilt and back-filled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg

from events.complaint import Complaint, new_tracking_code
from events.mapper import make_mapper
from events.reference import COMMAND_QUEUE, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.migrate import migrate
from projections.rebuild import rebuild_schema
from services.api.read_models import queries
from services.dispatch.command_queue import with_command_queue
from tests.integration.projections.cases import assessed
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.snapshot import snapshot

COLUMNS = ("escalated_at", "escalated_why", "escalated_version", "queued_at", "queued_why", "queued_version")

# The board's lookup before migration 013: the latest escalation to level 2+ or dispatch to the command
# queue, of those that hold now, by version.
TIMELINE_SINCE = """
SELECT c.id, w.at AS since, w.reason AS why
FROM levee_read.complaints c LEFT JOIN LATERAL (
    SELECT t.at, t.detail ->> 'reason' AS reason FROM levee_read.complaint_timeline t
    WHERE t.complaint_id = c.id AND (
        (c.escalation_level >= 2 AND t.kind = 'ComplaintEscalated' AND (t.detail ->> 'level')::int >= 2)
        OR (c.department = $1 AND t.kind = 'ComplaintDispatched' AND t.department = $1))
    ORDER BY t.version DESC LIMIT 1) w ON true
WHERE c.status IN ('received', 'validated', 'prioritised', 'dispatched', 'accepted', 'returned', 'reopened')
  AND (c.escalation_level >= 2 OR c.department = $1)
"""


def _assessed() -> Complaint:
    return assessed("Basement flooding fast", level="P1", score=80, accept_in=timedelta(minutes=15),
                    resolve_in=timedelta(hours=4), lat=22.70, lon=113.80)  # fmt: skip


WITH_QUEUE = with_command_queue(load_reference())  # as dispatch sends there


def _queue(c: Complaint, reason: str) -> None:
    c.dispatch(COMMAND_QUEUE, by="dispatch-rules", reason=reason, reference=WITH_QUEUE)


SCRIPTS: dict[str, Callable[[Complaint], None]] = {
    "escalated": lambda c: c.escalate(2, "trapped residents", by="dispatch"),
    "queued": lambda c: _queue(c, "no department serves this"),
    "escalated, then queued": lambda c: (c.escalate(2, "major", by="dispatch"), _queue(c, "unroutable")),
    "queued, then escalated": lambda c: (_queue(c, "unroutable"), c.escalate(2, "media", by="cmd-wu")),
    "escalated, then sent to a department": lambda c: (
        _queue(c, "unroutable"), c.escalate(2, "major", by="dispatch"),
        c.dispatch("drainage", by="cmd-wu", reason="command's call")),
    "queued, then sent on, then level 1 only": lambda c: (
        _queue(c, "unroutable"), c.dispatch("drainage", by="cmd-wu", reason="command's call"),
        c.escalate(1, "accept deadline missed", by="dispatch")),
    "level 1, then level 2": lambda c: (
        c.dispatch("drainage", by="dispatch-rules", reason="route"),
        c.escalate(1, "first miss", by="dispatch"), c.escalate(2, "second miss", by="dispatch")),
    "queued, escalated, then returned": lambda c: (
        _queue(c, "unroutable"), c.escalate(2, "major", by="dispatch"), c.return_dispatch(COMMAND_QUEUE, "misfiled")),
    "level 2 twice": lambda c: (
        c.escalate(2, "major", by="dispatch"), c.escalate(2, "still nobody", by="dispatch", deadline_missed=True)),
    "resolved by command, reopened into the queue": lambda c: (
        _queue(c, "unroutable"), c.accept(COMMAND_QUEUE), c.resolve(COMMAND_QUEUE, "Pumps sent", reference=WITH_QUEUE),
        c.record_follow_up(True, "not_satisfied", "water still there"), c.reopen("water still there")),
    "in an incident": lambda c: (c.link_to_incident(INCIDENT), c.escalate(2, "part of the flood", by="dispatch")),
}  # fmt: skip
INCIDENT = uuid4()


async def _project(store: JetStreamEventStore, make_runner: MakeRunner) -> dict[str, Any]:
    """The cases' rows made in one batch, then each script's changes in one later batch: an existing row
    changed several times in a batch, as the live projector merges it (projections/plan.py `Merge`)."""
    repository = AggregateStore(store, make_mapper())
    runner = await make_runner(batch_size=1000)
    cases = {name: _assessed() for name in SCRIPTS}
    for c in cases.values():
        await repository.save(c)
    await runner.catch_up()
    for name, script in SCRIPTS.items():
        script(cases[name])
        await repository.save(cases[name])
    await runner.catch_up()
    return {name: c.id for name, c in cases.items()}


async def test_the_rows_say_what_the_timelines_said(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    cases = await _project(store, make_runner)
    expected = {r["id"]: (r["since"], r["why"]) for r in await pg.fetch(TIMELINE_SINCE, COMMAND_QUEUE)}
    assert cases["queued, then sent on, then level 1 only"] not in expected  # not with command
    assert len(expected) == len(SCRIPTS) - 1 and all(since for since, _ in expected.values())
    board = await queries.escalated_to_command(pg)
    assert {r["id"]: (r["since"], r["why"]) for r in board} == expected
    assert [r["id"] for r in board] == [
        i for i, _ in sorted(expected.items(), key=lambda kv: (kv[1][0], kv[0]), reverse=True)
    ]
    individual = await queries.escalated_individual(pg)
    in_incident = cases["in an incident"]
    assert {r["id"]: (r["since"], r["why"]) for r in individual} == {
        i: w for i, w in expected.items() if i != in_incident
    }
    whys = {name: expected[i][1] for name, i in cases.items() if i in expected}
    assert whys == {
        "escalated": "trapped residents",
        "queued": "no department serves this",
        "escalated, then queued": "unroutable",
        "queued, then escalated": "media",
        "escalated, then sent to a department": "major",
        "level 1, then level 2": "second miss",
        "queued, escalated, then returned": "major",
        "level 2 twice": "still nobody",
        "resolved by command, reopened into the queue": "unroutable",
        "in an incident": "part of the flood",
    }
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == await snapshot(pg)


async def test_rows_projected_before_the_migration_are_filled_from_their_timelines(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    await _project(store, make_runner)
    select = f"SELECT id, {', '.join(COLUMNS)} FROM levee_read.complaints ORDER BY id"
    projected = [tuple(r) for r in await pg.fetch(select)]
    assert sum(1 for r in projected if r[1] is not None) == 8 and sum(1 for r in projected if r[4]) == 7
    # As a database upgraded to this version finds it: the rows without the columns, 013 not applied.
    await pg.execute("ALTER TABLE levee_read.complaints " + ", ".join(f"DROP COLUMN {c}" for c in COLUMNS))
    await pg.execute("DELETE FROM levee_read.schema_migrations WHERE version = '013_with_command_since'")
    assert await migrate(pg) == ["013_with_command_since"]
    assert [tuple(r) for r in await pg.fetch(select)] == projected


async def test_who_sent_each_case_to_command_is_on_its_row_and_filled_in_for_rows_from_before(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """An erasure keeps a reason only when the system wrote it (events/writers.py), decided by the `by`
    that migration 016 keeps beside it."""
    cases = await _project(store, make_runner)
    select = "SELECT id, escalated_by, queued_by FROM levee_read.complaints ORDER BY id"
    projected = [tuple(r) for r in await pg.fetch(select)]
    by_name = {name: next((r[1], r[2]) for r in projected if r[0] == i) for name, i in cases.items()}
    assert by_name["queued, then escalated"] == ("cmd-wu", "dispatch-rules")
    assert by_name["escalated, then queued"] == ("dispatch", "dispatch-rules")
    assert by_name["level 1, then level 2"] == ("dispatch", None)
    # As a database upgraded to this version finds it: the rows without the columns, 016 not applied.
    await pg.execute("ALTER TABLE levee_read.complaints DROP COLUMN escalated_by, DROP COLUMN queued_by")
    await pg.execute("DELETE FROM levee_read.schema_migrations WHERE version = '016_who_sent_to_command'")
    assert await migrate(pg) == ["016_who_sent_to_command"]
    assert [tuple(r) for r in await pg.fetch(select)] == projected


async def test_a_persons_words_an_erasure_before_the_upgrade_kept_are_erased_by_the_migration(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """The old erasure decided by wording: "major complaint: Mr Lam ..." from a person stayed on the board."""
    said, step = "major complaint: Mr Lam, 77 Marrowfield Lane", "reopened 2 times"
    person, reopened, system = _assessed(), _assessed(), _assessed()
    person.escalate(2, said, by="Duty officer")
    reopened.escalate(2, f"{step}: Mrs Li says the stump still blocks her door", by="operator:desk 3")
    system.escalate(2, "major complaint: P1 complaint", by="dispatch")
    repository = AggregateStore(store, make_mapper())
    for case in (person, reopened, system):
        case.redact("Erasure request 2026-002")
        await repository.save(case)
    runner = await make_runner()
    await runner.catch_up()
    why = "SELECT escalated_why FROM levee_read.complaints WHERE id = $1"
    # As the old erasure left them, in a database from before the migration.
    await pg.execute("UPDATE levee_read.complaints SET escalated_why = $2 WHERE id = $1", person.id, said)
    await pg.execute("UPDATE levee_read.complaints SET escalated_why = $2 WHERE id = $1", reopened.id, step)
    await pg.execute("ALTER TABLE levee_read.complaints DROP COLUMN escalated_by, DROP COLUMN queued_by")
    await pg.execute("DELETE FROM levee_read.schema_migrations WHERE version = '016_who_sent_to_command'")
    assert await migrate(pg) == ["016_who_sent_to_command"]
    assert (
        await pg.fetchval(why, person.id)
        == "escalated by hand (its reason was erased with the personal data)"
    )
    assert await pg.fetchval(why, reopened.id) == step
    assert await pg.fetchval(why, system.id) == "major complaint: P1 complaint"


async def test_an_erasure_leaves_no_tracking_code_of_the_callers_new_reports_in_why_triage_sent_it(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """Triage reopens a resolved case when the same caller reports the same problem again, naming the new
    report, and the second time sends it to command: "reopened 2 times: new report of the same problem:
    LV-...". Triage wrote it, but the code is the caller's other report: after the erasure the board's "why
    with command" still led to it. The step stays, the caller's report goes."""
    case = _assessed()
    case.dispatch("drainage", by="dispatch-rules", reason="route")
    case.accept("drainage")
    codes = [new_tracking_code(), new_tracking_code()]
    for code in codes:
        case.resolve("drainage", "Pumped out")
        case.reopen_and_escalate_repeats(f"new report of the same problem: {code}", by="triage")
    repository = AggregateStore(store, make_mapper())
    await repository.save(case)
    runner = await make_runner()
    await runner.catch_up()
    [row] = await queries.escalated_to_command(pg)
    assert row["why"] == f"reopened 2 times: new report of the same problem: {codes[1]}"  # until the erasure
    case.redact("Erasure request 2026-004")
    await repository.save(case)
    await runner.catch_up()
    [row] = await queries.escalated_to_command(pg)
    assert (row["id"], row["why"]) == (case.id, "reopened 2 times")
    whole = await pg.fetchval("SELECT t::text FROM levee_read.complaints t WHERE id = $1", case.id)
    assert not any(code in whole for code in codes)
