"""Idempotency-Key on a department's bulk action (POST /api/v1/incidents/{id}/department-actions), against real
NATS and PostgreSQL: a retry whose answer was lost records nothing twice, finishes what the first try did not
reach, and answers `Idempotent-Replayed: true` when it stored nothing new; another body is 422."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint
from events.complaint_rules import Status
from events.incident import Incident
from services.api import commands_bulk
from services.embedded.nats_server import NatsServer
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_command_idempotency import topics
from tests.integration.api.test_commands_bulk import (
    POWER,
    WATER,
    nats_stops_before_the_second_chunk,
    outage,
    project,
    statuses,
)
from tests.integration.api.test_commands_support import OTHER_DEPT, Staff, open_staff
from tests.support.waiting import wait_until

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
RESOLVE = {"action": "resolve", "summary": "Substation 3 back on line at 05:40"}

Answer = tuple[int, dict[str, Any], bool]  # status, body, replayed


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def act(staff: Staff, path: str, body: dict[str, Any], key: str | None, role: str = POWER) -> Answer:
    headers = {"Authorization": f"Bearer {staff.tokens[role]}"}
    if key is not None:
        headers[KEY] = key
    response = await staff.client.post(path, json=body, headers=headers)
    return response.status, await response.json(content_type=None), response.headers.get(REPLAYED) == "true"


async def marks(staff: Staff, complaint_id: UUID) -> list[str]:
    store = staff.aggregates.store
    messages = await store.read_subject(store.spec.event_subject(complaint_id))
    return [m.headers["Levee-Request"] for m in messages if "Levee-Request" in m.headers]


async def accepted_cases(staff: Staff, incident_id: UUID, count: int) -> list[UUID]:
    """More cases of the incident accepted by Power, more urgent than the drill's (they come first)."""
    incident = await staff.aggregates.get(incident_id, Incident)
    now = datetime.now(UTC)
    cases: list[Complaint] = []
    for _ in range(count):
        case = Complaint.receive(channel="hotline", description="Lift stuck, no power", received_by="hotline")
        case.validate()
        case.assess_priority(
            80, "P1", [], accept_by=now + timedelta(minutes=5), resolve_by=now + timedelta(hours=1)
        )
        case.dispatch(OTHER_DEPT, by="dispatch", reason="substation failure")
        case.accept(OTHER_DEPT)
        case.link_to_incident(incident_id)
        incident.link_complaint(case.id)
        cases.append(case)
    await staff.aggregates.save(incident, *cases)
    await project(staff)
    return [c.id for c in cases]


async def test_an_accept_all_retried_with_its_key_is_answered_as_the_first_time_and_stores_nothing(
    staff: Staff,
) -> None:
    drill = await outage(staff)
    first = await act(staff, drill.path(), {"action": "accept"}, "accept-all-0001")
    assert first[0] == 200 and not first[2] and first[1]["acted"] == 30, first
    before = await staff.aggregates.store.last_sequence()
    for _ in range(2):  # before the read model has caught up, and after
        again = await act(staff, drill.path(), {"action": "accept"}, "accept-all-0001")
        assert again[0] == 200 and again[2], again
        assert (again[1]["acted"], again[1]["skipped"]) == (30, {})
        assert set(again[1]["complaint_ids"]) == set(first[1]["complaint_ids"])
        await project(staff)
    assert await staff.aggregates.store.last_sequence() == before, "the retries stored nothing"
    for complaint_id in drill.power:
        assert (await topics(staff, complaint_id)).count("DispatchAccepted") == 1
        [mark] = await marks(staff, complaint_id)  # on each case's accept, and nowhere else
        assert "accept-all-0001" not in mark, "the key itself is never stored"


async def test_a_resolve_all_retried_after_a_case_was_reopened_does_not_resolve_it_again(
    staff: Staff,
) -> None:
    drill = await outage(staff)
    await act(staff, drill.path(), {"action": "accept"}, None)
    first = await act(staff, drill.path(), RESOLVE, "resolve-all-0001")
    assert first[0] == 200 and first[1]["acted"] == 30, first
    reopened = drill.power[4]
    await staff.command(reopened, "reopen", "operator", {"reason": "Still no power at No. 12"})
    await project(staff)  # the read model shows it with Power again
    again = await act(staff, drill.path(), RESOLVE, "resolve-all-0001")
    assert again[0] == 200 and again[2], again
    assert again[1]["acted"] == 30 and again[1]["skipped"] == {}, again
    case = await staff.complaint(reopened)
    assert case.status == Status.REOPENED, "the retry did not resolve it a second time"
    assert (await topics(staff, reopened)).count("ComplaintResolved") == 1
    unkeyed = await act(staff, drill.path(), RESOLVE, None)  # a new request: it is resolved now
    assert unkeyed[0] == 200 and not unkeyed[2] and unkeyed[1]["complaint_ids"] == [str(reopened)], unkeyed


async def test_a_retry_after_nats_stopped_part_way_finishes_the_rest_and_counts_every_case(
    make_client: MakeClient, own_nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = await open_staff(await make_client(nats_url=own_nats_server.url))
    drill = await outage(staff)
    link = nats_stops_before_the_second_chunk(staff, own_nats_server, monkeypatch)
    first = await act(staff, drill.path(), {"action": "accept"}, "accept-all-0002")
    assert first[0] == 503 and first[1]["acted"] == 10, first
    await asyncio.to_thread(own_nats_server.start)
    await wait_until(lambda: link.client is not None and link.client.is_connected, "NATS back", 20)

    again = await act(staff, drill.path(), {"action": "accept"}, "accept-all-0002")
    assert again[0] == 200 and not again[2], again  # it stored the other twenty: not a replay
    assert (again[1]["acted"], again[1]["skipped"]) == (30, {}), again
    assert set(again[1]["complaint_ids"]) == {str(i) for i in drill.power}
    assert await statuses(staff, drill.power) == {Status.ACCEPTED}
    for complaint_id in drill.power:
        assert (await topics(staff, complaint_id)).count("DispatchAccepted") == 1
    replay = await act(staff, drill.path(), {"action": "accept"}, "accept-all-0002")
    assert replay[0] == 200 and replay[2] and replay[1]["acted"] == 30, replay


async def test_the_key_with_another_body_is_422_and_stores_nothing_even_on_cases_it_never_touched(
    staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    drill = await outage(staff)
    monkeypatch.setattr(commands_bulk, "CHUNK", 10)
    await act(staff, drill.path(), {"action": "accept"}, None)
    first = await act(staff, drill.path(), RESOLVE, "resolve-all-0002")
    assert first[0] == 200 and first[1]["acted"] == 30, first
    urgent = await accepted_cases(staff, drill.incident, 10)  # the first chunk now: none carries the mark
    before = await staff.aggregates.store.last_sequence()
    status, problem, replayed = await act(
        staff, drill.path(), {**RESOLVE, "summary": "Supply restored"}, "resolve-all-0002"
    )
    assert status == 422 and not replayed, problem
    assert problem["code"] == "idempotency_key_reused" and [e["field"] for e in problem["errors"]] == [KEY]
    assert await staff.aggregates.store.last_sequence() == before
    assert await statuses(staff, urgent) == {Status.ACCEPTED}


async def test_identical_keyed_actions_sent_at_once_accept_each_case_once(staff: Staff) -> None:
    drill = await outage(staff)
    answers = await asyncio.gather(
        *(act(staff, drill.path(), {"action": "accept"}, "accept-all-0003") for _ in range(3))
    )
    assert {status for status, _, _ in answers} == {200}, answers
    assert sum(not replayed for _, _, replayed in answers) == 1, "one stored them, the others replay it"
    assert {answer["acted"] for _, answer, _ in answers} == {30}
    for complaint_id in drill.power:
        assert (await topics(staff, complaint_id)).count("DispatchAccepted") == 1


async def test_the_same_key_from_another_department_is_another_request(staff: Staff) -> None:
    drill = await outage(staff)
    power = await act(staff, drill.path(), {"action": "accept"}, "shared-key-0001")
    water = await act(staff, drill.path(), {"action": "accept"}, "shared-key-0001", role=WATER)
    assert power[0] == water[0] == 200 and not power[2] and not water[2], (power, water)
    assert set(water[1]["complaint_ids"]) == {str(i) for i in drill.water}
    again = await act(staff, drill.path(), {"action": "accept"}, "shared-key-0001", role=WATER)
    assert again[0] == 200 and again[2] and set(again[1]["complaint_ids"]) == {str(i) for i in drill.water}
