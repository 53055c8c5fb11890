"""Every answer a follow-up call got counts for the satisfaction rates (migration 018): live, rebuilt and filled in
for rows projected before it. Found by a review comparing the board with a fold of the stream: a "not
satisfied" reopens its case, the reopening cleared the case's answer, and every unhappy caller left the rates."""

from __future__ import annotations

import asyncpg

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.migrate import migrate
from projections.rebuild import rebuild_schema
from services.api.read_models import queries
from tests.integration.projections.cases import assessed
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.snapshot import snapshot

COLUMNS = ("answered_satisfied", "answered_partly", "answered_not_satisfied")


def resolved_by(department: str, answers: list[str]) -> Complaint:
    """Resolved by `department`, called back once per answer; each "not satisfied" reopens it, and it is
    resolved again before the next call."""
    c = assessed("Water in the basement")
    c.dispatch(department, by="dispatch", reason="route")
    c.accept(department)
    c.resolve(department, "Pumped out")
    for answer in answers:
        c.record_follow_up(True, answer, "")
        if answer == "not_satisfied":
            c.reopen("still flooded")
            c.resolve(department, "Pumped out again")
    return c


async def test_every_answer_counts_for_the_department_that_resolved(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    repository = AggregateStore(store, make_mapper())
    runner = await make_runner(batch_size=1000)
    for c in (
        resolved_by("drainage", ["satisfied"]),
        resolved_by("drainage", ["not_satisfied"]),  # reopened and resolved again, not called back yet
        resolved_by("drainage", ["not_satisfied", "partly_satisfied"]),
        resolved_by("water", ["not_satisfied"]),
    ):
        await repository.save(c)
    await runner.catch_up()

    rates = {row["department"]: row for row in await queries.department_rates(pg)}
    assert {k: rates["drainage"][k] for k in ("followed_up", "satisfied", "partly_satisfied", "not_satisfied")} == {
        "followed_up": 4, "satisfied": 1, "partly_satisfied": 1, "not_satisfied": 2,
    }  # fmt: skip
    assert rates["drainage"]["satisfaction_rate"] == 0.25
    # Its only caller reached was not satisfied: 0%, not "no answer" (the board showed "—").
    assert (rates["water"]["followed_up"], rates["water"]["satisfaction_rate"]) == (1, 0.0)

    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == await snapshot(pg)

    # As a database upgraded to this version finds it: the rows without the columns, 018 not applied.
    select = f"SELECT id, {', '.join(COLUMNS)} FROM levee_read.complaints ORDER BY id"
    projected = [tuple(r) for r in await pg.fetch(select)]
    await pg.execute("ALTER TABLE levee_read.complaints " + ", ".join(f"DROP COLUMN {c}" for c in COLUMNS))
    await pg.execute("DELETE FROM levee_read.schema_migrations WHERE version = '018_follow_up_answers'")
    assert await migrate(pg) == ["018_follow_up_answers"]
    assert [tuple(r) for r in await pg.fetch(select)] == projected
