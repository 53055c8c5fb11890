"""The person responsible (责任人) in the read models: folded the same live, event by event, and on a rebuild."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections import complaints, incidents
from projections.fold import Folding
from projections.ops import SqlOp
from projections.rebuild import rebuild_schema
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.day import write_day
from tests.integration.projections.snapshot import snapshot

FACTORS = [{"name": "danger_to_life", "weight": 0.5, "value": 1, "evidence": "trapped"}]


def _major(incident: Incident | None = None) -> Complaint:
    c = Complaint.receive(
        channel="hotline", description="Flood inside 300 homes, on the evening news", received_by="operator-chen",
        category="flooding", people_affected=300, media_exposure=True,
    )  # fmt: skip
    c.validate(by="triage")
    now = datetime.now(UTC)
    c.assess_priority(95, "P1", FACTORS, now + timedelta(minutes=15), now + timedelta(hours=4))
    c.escalate(2, "P1: sent to command at once", by="dispatch-rules")
    if incident is not None:
        c.link_to_incident(incident.id)
        incident.link_complaint(c.id)
    return c


async def _write(store: JetStreamEventStore) -> tuple[Complaint, Complaint, Incident]:
    """An owned and handed-over case, a case nobody owns (in an incident that has an owner), and the incident."""
    repository = AggregateStore(store, make_mapper())
    incident = Incident.declare(title="Riverside flood", kind="flood", districts=[], declared_by="cmd-wu")
    owned, unowned = _major(), _major(incident)
    await repository.save(incident, owned, unowned)
    owned.assign_responsible("Li Wei", by="cmd-wu", note="duty officer")
    incident.assign_responsible("王芳", by="cmd-wu")
    await repository.save(owned, incident)
    owned.assign_responsible("Zhang Min", by="cmd-zhao", note="shift change")
    incident.update_status("identified", by="cmd-wu")
    incident.assign_responsible("Li Wei", by="cmd-zhao")
    await repository.save(owned, incident)
    return owned, unowned, incident


async def test_a_live_run_and_a_rebuild_give_the_same_owners(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    await write_day(store)
    owned, unowned, incident = await _write(store)
    await write_day(store)
    runner = await make_runner(batch_size=1)  # event by event: every UPDATE runs as SQL
    await runner.catch_up()

    row = await pg.fetchrow(
        "SELECT responsible, responsible_since, version FROM levee_read.complaints WHERE id = $1", owned.id
    )
    assert (row["responsible"], row["version"]) == ("Zhang Min", owned.version)
    assert row["responsible_since"] == owned.modified_on
    assert (
        await pg.fetchval("SELECT responsible FROM levee_read.complaints WHERE id = $1", unowned.id) is None
    )
    inc = await pg.fetchrow(
        "SELECT responsible, responsible_since, status, updated_at FROM levee_read.incidents WHERE id = $1",
        incident.id,
    )
    assert (inc["responsible"], inc["status"]) == ("Li Wei", "identified")
    assert inc["responsible_since"] == inc["updated_at"] == incident.modified_on
    history = await pg.fetch(
        "SELECT detail FROM levee_read.complaint_timeline WHERE complaint_id = $1 "
        "AND kind = 'ComplaintResponsibleAssigned' ORDER BY version",
        owned.id,
    )
    assert [json.loads(h["detail"]) for h in history] == [
        {"by": "cmd-wu", "note": "duty officer", "person": "Li Wei", "previous": None},
        {"by": "cmd-zhao", "note": "shift change", "person": "Zhang Min", "previous": "Li Wei"},
    ]

    rebuilt = await rebuild_schema(store, pg, swap=False)  # one batch: the new rows' UPDATEs are folded
    assert await snapshot(pg, rebuilt) == await snapshot(pg)


async def test_folding_understands_the_owner_statements(pg: asyncpg.Connection) -> None:
    """Else a rebuild would write these rows as an INSERT and then UPDATEs: right, but slow."""
    folding = await Folding.load(pg, "levee_read")
    c = Complaint.receive(channel="web", description="x", received_by="public")
    c.assign_responsible("Li Wei", by="cmd-wu")
    i = Incident.declare(title="Flood", kind="flood", districts=[], declared_by="cmd-wu")
    i.assign_responsible("Li Wei", by="cmd-wu")
    for apply, event, table in (
        (complaints.apply, c.collect_events()[-1], "complaints"),
        (incidents.apply, i.collect_events()[-1], "incidents"),
    ):
        [op] = apply(event)
        assert isinstance(op, SqlOp)
        assert folding.update(op.sql, folding.tables[table]) is not None, op.sql
