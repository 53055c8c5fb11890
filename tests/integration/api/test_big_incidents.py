"""Command staff acting on an incident of a surge while triage keeps linking reports to it."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.errors import ConcurrencyConflict
from events.store.stream import StreamSpec
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import Staff, open_staff
from tests.integration.api.test_erased_person_guard import approved_notice, declare, file, publish

LINKED = 10_000


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def big_incident(staff: Staff) -> uuid.UUID:
    status, answer = await staff.post(
        "/api/v1/incidents", "command", {"title": "Substation fire", "kind": "power_outage", "districts": []}
    )
    assert status == 201, answer
    incident = await staff.aggregates.get(uuid.UUID(answer["id"]), Incident)
    for _batch in range(LINKED // 500):
        for _ in range(500):
            incident.link_complaint(uuid.uuid4())
        await staff.aggregates.save(incident)
    return incident.id


class Triage(threading.Thread):
    """Links one report every 5 ms from a process of its own (a thread with its own loop and connection), as
    triage does in a surge: never paused while the API reads."""

    def __init__(self, nats_url: str, spec: StreamSpec, incident_id: uuid.UUID) -> None:
        super().__init__(daemon=True)
        self.nats_url, self.spec, self.incident_id = nats_url, spec, incident_id
        self.linking, self.stop = threading.Event(), threading.Event()
        self.linked: list[uuid.UUID] = []

    def run(self) -> None:
        asyncio.run(self._link())

    async def _link(self) -> None:
        nc = await connect_nats(self.nats_url, name="test-triage")
        try:
            aggregates = AggregateStore(JetStreamEventStore(nc, self.spec), make_mapper())
            incident = await aggregates.get(self.incident_id, Incident)
            while not self.stop.is_set():
                complaint_id = uuid.uuid4()
                incident.link_complaint(complaint_id)
                try:
                    await aggregates.save(incident)
                except ConcurrencyConflict:  # a command went first: read it again, as triage does
                    incident = await aggregates.get(self.incident_id, Incident)
                    continue
                self.linked.append(complaint_id)
                self.linking.set()
                await asyncio.sleep(0.005)  # the pace of the reports, not a wait for anything
        finally:
            await nc.close()


async def test_status_moves_while_reports_keep_being_linked(
    staff: Staff, nats_url: str, stream_spec: StreamSpec
) -> None:
    incident_id = await big_incident(staff)
    triage = Triage(nats_url, stream_spec, incident_id)
    triage.start()
    answers = []
    try:
        assert await asyncio.to_thread(triage.linking.wait, 30)
        for status in ("identified", "monitoring", "investigating", "resolved"):
            answers.append(
                await staff.post(f"/api/v1/incidents/{incident_id}/status", "command", {"status": status})
            )
    finally:
        triage.stop.set()
        await asyncio.to_thread(triage.join, 30)

    assert [code for code, _ in answers] == [200] * 4, [a for _, a in answers if "status" not in a]
    stored = await staff.aggregates.get(incident_id, Incident)
    assert stored.status == "resolved"
    assert stored.complaint_ids[LINKED:] == triage.linked  # no report's link lost either


async def test_a_complainant_linked_after_a_notice_is_checked_by_the_next(staff: Staff) -> None:
    """Publishing remembers what it read of an incident's complainants: those linked since are read too."""
    incident_id = await declare(staff)
    await link(staff, incident_id, await file(staff))
    status, answer = await publish(staff, await approved_notice(staff, incident_id, "Crews are pumping."))
    assert (status, answer.get("state")) == (200, "published"), answer

    later = {"name": "Ostrava Plimsoll", "phone": "+852 6123 7788"}
    await link(staff, incident_id, await file(staff, later))
    naming = await approved_notice(staff, incident_id, "Thanks to Ostrava Plimsoll for the report.")
    status, problem = await publish(staff, naming)
    assert (status, problem.get("code")) == (422, "contains_personal_data"), problem


async def link(staff: Staff, incident_id: str, complaint_id: str) -> None:
    status, linked = await staff.post(
        f"/api/v1/incidents/{incident_id}/complaints", "command", {"complaint_id": complaint_id}
    )
    assert status == 200, linked


async def test_a_notice_is_not_published_unchecked_when_a_linked_complaint_cannot_be_read(
    staff: Staff,
) -> None:
    incident_id = await declare(staff)
    await link(staff, incident_id, await file(staff))
    incident = await staff.aggregates.get(uuid.UUID(incident_id), Incident)
    unread = uuid.uuid4()
    incident.link_complaint(unread)  # linked, and no event of it in the stream (a replica far behind, say)
    await staff.aggregates.save(incident)

    notice_id = await approved_notice(staff, incident_id, "Crews are pumping.")
    status, problem = await publish(staff, notice_id)
    assert (status, problem.get("dependency")) == (503, "NATS"), problem
    assert "1 linked complaints not found" in problem["detail"] and str(unread) in problem["detail"], problem
    assert (await staff.aggregates.get(uuid.UUID(notice_id))).state == "approved"  # not published


async def test_a_linked_complaint_that_cannot_be_read_is_a_data_fault_not_an_outage(staff: Staff) -> None:
    """A 503 would have the press officer's client retry for ever; the notice is still not published unchecked."""
    incident_id = await declare(staff)
    other = await staff.aggregates.get(uuid.UUID(await declare(staff)), Incident)
    incident = await staff.aggregates.get(uuid.UUID(incident_id), Incident)
    incident.link_complaint(other.id)  # an id whose history is an incident's, not a complaint's
    await staff.aggregates.save(incident)

    notice_id = await approved_notice(staff, incident_id, "Crews are pumping.")
    status, problem = await publish(staff, notice_id)
    assert (status, problem.get("code")) == (500, "complaint_unreadable"), problem
    assert str(other.id) in problem["detail"] and "IncidentDeclared" in problem["detail"], problem
    assert (await staff.aggregates.get(uuid.UUID(notice_id))).state == "approved"  # not published
