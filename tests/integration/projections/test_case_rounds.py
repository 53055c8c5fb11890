"""A case that goes round again: assessed late, re-dispatched after a sign-for, reopened, erased. Its row must
say where the case is now, on the department's queue and on the public status page, whichever way the
projector wrote it: statement by statement, folded into the row's INSERT in one batch, or merged into an
existing row in a later batch (projections/fold.py, plan.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api.read_models import public, queries
from tests.integration.projections.cases import assessed
from tests.integration.projections.conftest import MakeRunner

MODES = ("statement by statement", "in one batch", "changed in a later batch")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _project(
    store: JetStreamEventStore,
    make_runner: MakeRunner,
    mode: str,
    cases: list[Complaint],
    go_on: Callable[[], object],
) -> None:
    """Store `cases` as they are, then what `go_on` does to them, and project it all the `mode` way."""
    repository = AggregateStore(store, make_mapper())
    if mode == "changed in a later batch":  # the rows exist; the rest is one batch merged into them
        runner = await make_runner(batch_size=1000)
        await repository.save(*cases)
        await runner.catch_up()
    else:
        runner = await make_runner(batch_size=1 if mode == "statement by statement" else 1000)
    go_on()
    await repository.save(*cases)
    await runner.catch_up()


def _received(description: str) -> Complaint:
    case = Complaint.receive(channel="hotline", description=description, received_by="hotline",
                             category="water_outage", district="riverside")  # fmt: skip
    case.validate()
    return case


def _assess(case: Complaint, level: str = "P1") -> None:
    now = datetime.now(UTC)
    case.assess_priority(
        80, level, [], accept_by=now + timedelta(minutes=15), resolve_by=now + timedelta(hours=4)
    )


async def _public(pg: asyncpg.Connection, case: Complaint) -> dict[str, object]:
    status = await public.public_status(pg, case.tracking_code)
    assert status is not None
    return status


async def test_a_late_assessment_keeps_a_dispatched_or_signed_for_case_where_it_is(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner, mode: str
) -> None:
    """Sent by hand before triage assessed it, or re-assessed when its incident grew: the case stays dispatched
    or accepted. Read as a fresh assessment the row said "prioritised": the department's queue (dispatched,
    accepted, reopened) lost it, and the public page said only "received" while a crew was on it."""
    by_hand, signed_for = _received("No water in Block 7"), _received("No water in Block 9")

    def go_on() -> None:
        by_hand.dispatch("water", by="cmd-wu", reason="triage is backlogged", by_hand=True)
        _assess(signed_for, "P2")
        signed_for.dispatch("water", by="dispatch", reason="category route")
        signed_for.accept("water")
        _assess(by_hand)
        _assess(signed_for)  # the incident grew: P1 now

    await _project(store, make_runner, mode, [by_hand, signed_for], go_on)
    assert (by_hand.status, signed_for.status) == ("dispatched", "accepted")  # as the aggregates have it
    queue, total = await queries.department_queue(pg, "water")
    assert total == 2
    assert {row["id"]: (row["status"], row["level"]) for row in queue} == {
        by_hand.id: ("dispatched", "P1"), signed_for.id: ("accepted", "P1")}  # fmt: skip
    for case in (by_hand, signed_for):
        assert (await _public(pg, case))["status"] == "in_progress"


async def test_a_signed_for_case_sent_to_another_department_shows_no_sign_for(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner, mode: str
) -> None:
    """Command sent a case water had signed for to drainage: drainage has not signed for it. The row kept water's
    sign-for time, so the public page said "accepted 08:02" by a department that had not accepted it, and
    drainage's queue showed it accepted."""
    case = assessed("Street under water on Hill Road")

    def go_on() -> None:
        case.dispatch("water", by="dispatch", reason="category route")
        case.accept("water")
        case.dispatch("drainage", by="cmd-wu", reason="standing water is drainage's", by_hand=True)

    await _project(store, make_runner, mode, [case], go_on)
    [row], _ = await queries.department_queue(pg, "drainage")
    assert (row["id"], row["status"], row["accepted_at"]) == (case.id, "dispatched", None)
    assert row["seconds_to_accept"] is not None  # waiting for drainage's sign-for
    status = await _public(pg, case)
    assert (status["status"], status["accepted_at"]) == ("in_progress", None)


async def test_a_reopened_case_shows_no_resolved_time(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner, mode: str
) -> None:
    """Reopened after an unhappy follow-up: it is not resolved. The row kept the first resolution's time, so
    the public page showed the caller a "resolved" time on a case being worked again."""
    case = assessed("No water on Elm Street")

    def go_on() -> None:
        case.dispatch("water", by="dispatch", reason="category route")
        case.accept("water")
        case.resolve("water", "Valve replaced")
        case.record_follow_up(True, "not_satisfied", "still no water")
        case.reopen("still no water")

    await _project(store, make_runner, mode, [case], go_on)
    status = await _public(pg, case)
    assert (status["status"], status["resolved_at"]) == ("in_progress", None)
    [row], _ = await queries.department_queue(pg, "water")
    assert (row["id"], row["status"]) == (case.id, "reopened")


async def test_an_erasure_leaves_no_public_text_of_the_callers_report(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner, mode: str
) -> None:
    """The public text is the report with personal data masked, but the report is the caller's own words: an
    erasure takes it as well as the description. It stayed on the row after the erasure."""
    words = "Water pours from the ceiling of the corner bakery on Hill Road"
    case = _received(words)
    assert "corner bakery" in case.public_description  # nothing to mask: the caller's words as they are

    def go_on() -> None:
        case.redact("Erasure request 2026-003")

    await _project(store, make_runner, mode, [case], go_on)
    row = await pg.fetchrow(
        "SELECT t.*, t::text AS whole FROM levee_read.complaints t WHERE id = $1", case.id
    )
    assert (row["redacted"], row["description"], row["public_description"]) == (True, "", "")
    assert "bakery" not in row["whole"]
