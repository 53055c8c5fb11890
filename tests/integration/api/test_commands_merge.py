"""POST /api/v1/incidents/{id}/merge against real NATS and PostgreSQL: the merge is one atomic batch over both
incidents, triage then moves every open complaint exactly once, and the read models follow."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from events.complaint import Complaint
from events.incident import Incident, IncidentAbsorbed
from events.incident_rules import ABSORB_PART
from services.runtime.worker import Worker
from services.triage.app import build_worker
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_bulk import interpose, project
from tests.integration.api.test_commands_support import Staff, open_staff
from tests.integration.triage.test_triage_worker import DEPS

COMMAND = "command"


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


def _case() -> Complaint:
    case = Complaint.receive(
        channel="hotline", description="Burst main, street under water", received_by="hotline"
    )
    case.validate()
    now = datetime.now(UTC)
    case.assess_priority(55, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1))
    return case


async def incident_with(staff: Staff, title: str, kind: str, cases: int) -> tuple[Incident, list[UUID]]:
    """An incident and its linked, prioritised complaints, stored the way triage would have."""
    incident = Incident.declare(title=title, kind=kind, districts=["old_town"], declared_by="triage")
    ids: list[UUID] = []
    for start in range(0, cases, 200):
        chunk = [_case() for _ in range(min(200, cases - start))]
        for case in chunk:
            case.link_to_incident(incident.id)
            incident.link_complaint(case.id)
        await staff.aggregates.save(*chunk)
        ids += [c.id for c in chunk]
    await staff.aggregates.save(incident)
    return incident, ids


async def merge(staff: Staff, source: UUID | str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return await staff.post(f"/api/v1/incidents/{source}/merge", COMMAND, body)


async def drain(worker: Worker) -> None:
    await worker.start()
    async with asyncio.timeout(60):
        while await worker.process_batch():
            pass


async def moves(staff: Staff, complaint_id: UUID) -> int:
    store = staff.aggregates.store
    messages = await store.read_subject(store.spec.event_subject(complaint_id))
    return Counter(m.headers["Levee-Topic"].rsplit(":", 1)[1] for m in messages)["ComplaintMovedToIncident"]


async def test_merge_ends_the_source_and_triage_moves_every_open_complaint_once(staff: Staff) -> None:
    water, water_ids = await incident_with(staff, "Water outage in Old Town", "water_outage", 5)
    flood, flood_ids = await incident_with(staff, "Flooding in Old Town", "flooding", 3)
    ended = await staff.complaint(water_ids[0])
    ended.resolve("hotline_office", "Told about the repair crew", "first_contact", answer_ref="notice-1")
    ended.close()
    await staff.aggregates.save(ended)

    status, answer = await merge(staff, water.id, {"into": str(flood.id), "reason": "One burst main"})
    assert status == 200, answer
    assert (answer["merged_into"], answer["moving"], answer["already_merged"]) == (str(flood.id), 5, False)
    assert answer["into"]["complaints"] == 8 and answer["id"] == str(water.id)
    assert (await staff.aggregates.get(water.id, Incident)).merged_into == flood.id
    assert (await staff.aggregates.get(flood.id, Incident)).complaint_ids == [*flood_ids, *water_ids]

    store = staff.aggregates.store
    await asyncio.gather(*(drain(build_worker(store, DEPS, batch_size=5)) for _ in range(2)))  # rivals
    await drain(build_worker(store, DEPS))  # and once more from the start
    for complaint_id in water_ids[1:]:
        assert (await staff.complaint(complaint_id)).incident_id == flood.id
        assert await moves(staff, complaint_id) == 1
    assert (await staff.complaint(water_ids[0])).incident_id == water.id  # closed: stays where it ended

    before = await store.last_sequence()
    status, again = await merge(staff, water.id, {"into": str(flood.id), "reason": "One burst main"})
    assert (status, again["already_merged"], again["moving"]) == (200, True, 0)  # a retried request
    assert await store.last_sequence() == before  # stored nothing

    await project(staff)
    listed = await _incidents(staff)
    assert [i["id"] for i in listed] == [str(flood.id)]
    # The closed one stayed in the merged incident, and still counts under the one it ended in.
    assert listed[0]["linked_complaints"] == 8 and listed[0]["complaints"] == 8
    # merged=false is the default's answer, not every incident (a mutation reading any value as true passed).
    assert [i["id"] for i in await _incidents(staff, "?merged=false")] == [str(flood.id)]
    every = {i["id"]: i for i in await _incidents(staff, "?merged=true")}
    assert every[str(water.id)]["merged_into"] == str(flood.id)
    assert every[str(water.id)]["merged_into_title"] == "Flooding in Old Town"
    assert every[str(water.id)]["linked_complaints"] == 0


async def test_a_report_linked_meanwhile_is_absorbed_too(staff: Staff) -> None:
    first, _ = await incident_with(staff, "Medical access in Old Town", "medical_access", 2)
    second, second_ids = await incident_with(staff, "Medical access in Old Town", "medical_access", 2)
    late = _case()

    async def triage_links_one_more() -> None:  # between the merge's load and its save
        incident = await staff.aggregates.get(second.id, Incident)
        late.link_to_incident(second.id)
        incident.link_complaint(late.id)
        await staff.aggregates.save(late, incident)

    appender = interpose(staff, {1: triage_links_one_more})
    status, answer = await merge(staff, second.id, {"into": str(first.id), "reason": "one event"})
    assert (status, answer["moving"]) == (200, 3), answer
    assert appender.calls == 2  # one conflict, then both incidents reloaded and merged again
    target = await staff.aggregates.get(first.id, Incident)
    assert target.complaint_ids[-3:] == [*second_ids, late.id]
    await drain(build_worker(staff.aggregates.store, DEPS))
    assert (await staff.complaint(late.id)).incident_id == first.id


async def test_a_large_incident_moves_in_parts_each_complaint_once(staff: Staff) -> None:
    big, big_ids = await incident_with(
        staff, "Power outage in Old Town", "power_outage", ABSORB_PART * 2 + 50
    )
    small, _ = await incident_with(staff, "Power outage in Old Town", "power_outage", 1)
    status, answer = await merge(staff, big.id, {"into": str(small.id), "reason": "one substation"})
    assert (status, answer["moving"]) == (200, len(big_ids)), answer
    store = staff.aggregates.store
    messages = await store.read_subject(store.spec.event_subject(small.id))
    parts = [staff.aggregates.to_domain_event(small.id, m) for m in messages]
    assert [len(p.complaint_ids) for p in parts if isinstance(p, IncidentAbsorbed)] == [200, 200, 50]
    await drain(build_worker(store, DEPS, batch_size=2))
    assert {(await staff.complaint(i)).incident_id for i in big_ids} == {small.id}
    assert {await moves(staff, i) for i in big_ids} == {1}


async def test_merge_refusals(staff: Staff) -> None:
    a, _ = await incident_with(staff, "A", "flooding", 1)
    b, _ = await incident_with(staff, "B", "flooding", 1)
    c, _ = await incident_with(staff, "C", "flooding", 0)
    resolved, _ = await incident_with(staff, "Resolved", "flooding", 0)
    status, _answer = await staff.post(
        f"/api/v1/incidents/{resolved.id}/status", COMMAND, {"status": "resolved"}
    )
    assert status == 200
    assert (await merge(staff, c.id, {"into": str(b.id), "reason": "one event"}))[0] == 200  # c is merged now

    cases: list[tuple[UUID | str, dict[str, Any], int, str]] = [
        (uuid4(), {"into": str(a.id), "reason": "r"}, 404, "not_found"),
        ("not-a-uuid", {"into": str(a.id), "reason": "r"}, 404, "not_found"),
        (a.id, {"into": str(uuid4()), "reason": "r"}, 422, "invalid_fields"),
        (a.id, {"into": str(a.id), "reason": "r"}, 422, "merge_into_itself"),
        (a.id, {"into": str(resolved.id), "reason": "r"}, 409, "target_resolved"),
        (a.id, {"into": str(c.id), "reason": "r"}, 409, "target_merged"),
        (c.id, {"into": str(a.id), "reason": "r"}, 409, "incident_merged"),  # merged, into another than asked
        (a.id, {"into": str(b.id)}, 422, "invalid_fields"),
        (a.id, {"into": str(b.id), "reason": "r", "force": True}, 422, "invalid_fields"),
    ]
    for source, body, want, code in cases:
        status, problem = await merge(staff, source, body)
        assert (status, problem.get("code")) == (want, code), (source, body, problem)
    assert (await staff.aggregates.get(a.id, Incident)).merged_into is None
    status, problem = await staff.post(
        f"/api/v1/incidents/{a.id}/merge", "press", {"into": str(b.id), "reason": "r"}
    )
    assert status == 403


async def _incidents(staff: Staff, query: str = "") -> list[dict[str, Any]]:
    response = await staff.client.get(
        f"/api/v1/incidents{query}", headers={"Authorization": f"Bearer {staff.tokens[COMMAND]}"}
    )
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items
