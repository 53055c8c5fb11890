"""A department's bulk action on an incident (POST /api/v1/incidents/{id}/department-actions), against real
NATS and PostgreSQL: one substation failure, 30 cases with the Power Supply Bureau and a few with Water.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from events.complaint import Complaint
from events.complaint_rules import Status
from events.incident import Incident
from events.store.aggregates import Appender
from events.store.records import Write
from projections.migrate import migrate
from projections.runner import ProjectionRunner
from services.api import commands_bulk, keys
from services.api.commands import REPOSITORY
from services.embedded.nats_server import NatsServer
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, OTHER_DEPT, Staff, open_staff
from tests.support.store_full import fill_up
from tests.support.waiting import wait_until

POWER, WATER = f"department:{OTHER_DEPT}", f"department:{DEPT}"  # OTHER_DEPT is "power"
NOTE = {"action": "resolve", "summary": "Substation 3 back on line at 05:40; supply restored to Old Town"}


@dataclass
class Outage:
    incident: UUID
    power: list[UUID]  # linked to the incident, with the Power Supply Bureau
    water: list[UUID]  # linked to the incident, with Water
    elsewhere: UUID  # with the Power Supply Bureau, in no incident

    def path(self) -> str:
        return f"/api/v1/incidents/{self.incident}/department-actions"


async def outage(staff: Staff, power: int = 30, water: int = 3) -> Outage:
    """The drill's picture, stored the way triage and dispatch would have (in one batch), then projected."""
    incident = Incident.declare(
        title="Power outage in Old Town", kind="substation_failure", districts=[], declared_by="command desk"
    )
    now = datetime.now(UTC)
    cases: list[Complaint] = []
    for department in [OTHER_DEPT] * power + [DEPT] * water + [OTHER_DEPT]:
        case = Complaint.receive(channel="hotline", description="No power since 02:10", received_by="hotline")
        case.validate()
        case.assess_priority(
            55, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1)
        )
        case.dispatch(department, by="dispatch", reason="substation failure")
        cases.append(case)
    for case in cases[:-1]:
        case.link_to_incident(incident.id)
        incident.link_complaint(case.id)
    await staff.aggregates.save(incident, *cases)
    await project(staff)
    ids = [c.id for c in cases]
    return Outage(incident.id, ids[:power], ids[power:-1], ids[-1])


async def project(staff: Staff) -> None:
    async with staff.client.app[keys.PG_POOL].acquire() as conn:
        await migrate(conn)
        runner = ProjectionRunner(staff.aggregates.store, conn, notify=False)
        await runner.start()
        await runner.catch_up()
        await conn.execute("RESET search_path")  # the pool's connection goes back as it came


async def statuses(staff: Staff, ids: Sequence[UUID]) -> set[Status]:
    return {(await staff.complaint(i)).status for i in ids}


class Interposed:
    """The app's real appender; `before[n]` runs (against the real servers) just before the n-th append."""

    def __init__(self, real: Appender, before: dict[int, Callable[[], Awaitable[None]]]) -> None:
        self.real, self.before, self.calls = real, before, 0

    async def append(self, writes: Sequence[Write]) -> list[int]:
        self.calls += 1
        if (step := self.before.get(self.calls)) is not None:
            await step()
        return await self.real.append(writes)


def interpose(staff: Staff, before: dict[int, Callable[[], Awaitable[None]]]) -> Interposed:
    aggregates = staff.client.app[REPOSITORY].aggregates()
    aggregates.appender = Interposed(aggregates.appender, before)
    return aggregates.appender


def nats_stops_before_the_second_chunk(
    staff: Staff, server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> keys.NatsLink:
    """Three chunks of ten; NATS killed just before the second is stored. The API's link, to wait on."""
    monkeypatch.setattr(commands_bulk, "CHUNK", 10)
    link = staff.client.app[keys.NATS_LINK]

    async def nats_stops() -> None:
        await asyncio.to_thread(server.kill)
        await wait_until(lambda: link.client is not None and not link.client.is_connected, "NATS gone", 10)

    interpose(staff, {2: nats_stops})
    return link


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def test_accept_all_accepts_exactly_the_departments_cases_of_the_incident(staff: Staff) -> None:
    drill = await outage(staff)
    status, answer = await staff.post(drill.path(), POWER, {"action": "accept"})
    assert status == 200, answer
    assert answer["acted"] == 30 and answer["skipped"] == {} and answer["skipped_ids"] == {}
    assert set(answer["complaint_ids"]) == {str(i) for i in drill.power}
    assert await statuses(staff, drill.power) == {Status.ACCEPTED}
    assert await statuses(staff, [*drill.water, drill.elsewhere]) == {Status.DISPATCHED}
    accepted = await staff.complaint(drill.power[0])
    assert accepted.version == 6  # received, validated, assessed, dispatched, linked, accepted: one event

    # Again, before the read model has caught up (it still says dispatched) and after: nothing new.
    for _ in range(2):
        status, again = await staff.post(drill.path(), POWER, {"action": "accept"})
        assert (status, again["acted"], again["complaint_ids"]) == (200, 0, [])
        assert again["skipped"] == {"not_dispatched": 30}
        await project(staff)
    assert (await staff.complaint(drill.power[0])).version == 6


async def test_resolve_all_resolves_the_accepted_cases_with_the_note(staff: Staff) -> None:
    drill = await outage(staff)
    status, early = await staff.post(drill.path(), POWER, NOTE)
    assert (status, early["acted"], early["skipped"]) == (200, 0, {"not_accepted": 30})
    # Which ones: the desk knows which cases still need a hand (found by a review of the department side).
    assert set(early["skipped_ids"]) == {"not_accepted"}
    assert set(early["skipped_ids"]["not_accepted"]) == {str(i) for i in drill.power}

    await staff.post(drill.path(), POWER, {"action": "accept"})
    status, answer = await staff.post(drill.path(), POWER, {**NOTE, "answer_ref": "notice-17"})
    assert status == 200 and answer["acted"] == 30, answer
    for complaint_id in drill.power:
        case = await staff.complaint(complaint_id)
        assert case.status == Status.RESOLVED and case.resolved_by == OTHER_DEPT
        assert case.resolution is not None and case.resolution["summary"] == NOTE["summary"]
        assert case.resolution["answer_ref"] == "notice-17"
    assert await statuses(staff, [*drill.water, drill.elsewhere]) == {Status.DISPATCHED}

    status, again = await staff.post(drill.path(), POWER, NOTE)  # the read model still lists them
    assert (status, again["acted"], again["skipped"]) == (200, 0, {"already_resolved": 30})
    await project(staff)
    status, again = await staff.post(drill.path(), POWER, NOTE)  # and now it does not
    assert (status, again["acted"], again["skipped"]) == (200, 0, {})


async def test_the_other_department_acts_only_on_its_own_cases(staff: Staff) -> None:
    drill = await outage(staff)
    status, answer = await staff.post(drill.path(), WATER, {"action": "accept"})
    assert status == 200 and set(answer["complaint_ids"]) == {str(i) for i in drill.water}
    assert await statuses(staff, drill.power) == {Status.DISPATCHED}


async def test_a_case_written_meanwhile_is_reloaded_and_decided_again(staff: Staff) -> None:
    drill = await outage(staff)
    target = drill.power[7]

    async def command_escalates_it() -> None:  # a concurrent writer, between the load and the save
        case = await staff.complaint(target)
        case.escalate(1, "media exposure", by="command desk")
        await staff.aggregates.save(case)

    appender = interpose(staff, {1: command_escalates_it})
    status, answer = await staff.post(drill.path(), POWER, {"action": "accept"})
    assert (status, answer["acted"], answer["skipped"]) == (200, 30, {}), answer
    assert appender.calls == 2  # one conflict, then the chunk again with the reloaded case
    case = await staff.complaint(target)
    assert (case.status, case.escalation_level, case.version) == (Status.ACCEPTED, 1, 7)


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [(None, 401, "unauthenticated"), ("command", 403, "role_not_allowed"),
     ("operator", 403, "role_not_allowed"), ("press", 403, "role_not_allowed")],
)  # fmt: skip
async def test_only_department_staff_may_act(staff: Staff, role: str | None, status: int, code: str) -> None:
    drill = await outage(staff, power=2, water=0)
    got, problem = await staff.post(drill.path(), role, {"action": "accept"})
    assert (got, problem["code"]) == (status, code)
    assert await statuses(staff, drill.power) == {Status.DISPATCHED}


async def test_the_panel_counts_a_departments_cases_per_incident_and_refuses_another_department(
    staff: Staff,
) -> None:
    drill = await outage(staff)
    response = await staff.client.get(
        f"/api/v1/departments/{OTHER_DEPT}/incidents",
        headers={"Authorization": f"Bearer {staff.tokens[POWER]}"},
    )
    panel = await response.json()
    assert panel["items"] == [
        {"id": str(drill.incident), "title": "Power outage in Old Town", "status": "investigating",
         "dispatched": 30, "accepted": 0}
    ]  # fmt: skip
    await staff.post(drill.path(), POWER, {"action": "accept"})
    await project(staff)
    response = await staff.client.get(
        f"/api/v1/departments/{OTHER_DEPT}/incidents",
        headers={"Authorization": f"Bearer {staff.tokens[POWER]}"},
    )
    assert [(i["dispatched"], i["accepted"]) for i in (await response.json())["items"]] == [(0, 30)]
    wrong = await staff.client.get(
        f"/api/v1/departments/{OTHER_DEPT}/incidents",
        headers={"Authorization": f"Bearer {staff.tokens[WATER]}"},
    )
    assert wrong.status == 403 and (await wrong.json())["code"] == "not_your_department"


async def test_an_unknown_incident_is_404(staff: Staff) -> None:
    drill = await outage(staff, power=1, water=0)
    for incident in ("not-a-uuid", str(uuid4()), str(drill.power[0])):  # a complaint is not an incident
        status, problem = await staff.post(
            f"/api/v1/incidents/{incident}/department-actions", POWER, {"action": "accept"}
        )
        assert (status, problem["code"]) == (404, "not_found"), incident


BAD_BODIES: list[tuple[str, Any, str, str]] = [
    ("no action", {}, "action", "is required"),
    ("unknown action", {"action": "close"}, "action", "must be one of accept, resolve"),
    ("resolve without a summary", {"action": "resolve"}, "summary", "is required for action resolve"),
    ("blank summary", {"action": "resolve", "summary": "  "}, "summary", "must not be blank"),
    ("summary too long", {"action": "resolve", "summary": "x" * 4001}, "summary", "at most 4000"),
    ("summary with accept", {"action": "accept", "summary": "done"}, "summary", "not used by action accept"),
    ("unknown field", {"action": "resolve", "note": "done"}, "note", "unknown field"),
]


@pytest.mark.parametrize(
    ("case_name", "body", "field", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_a_bad_body_is_422_naming_the_field(
    staff: Staff, case_name: str, body: Any, field: str, message: str
) -> None:
    drill = await outage(staff, power=2, water=0)
    status, problem = await staff.post(drill.path(), POWER, body)
    assert (status, problem["code"]) == (422, "invalid_fields"), problem
    assert any(e["field"] == field and message in e["message"] for e in problem["errors"]), problem
    assert await statuses(staff, drill.power) == {Status.DISPATCHED}


async def test_nats_stopping_part_way_answers_503_naming_what_was_stored_and_nothing_else_is(
    make_client: MakeClient, own_nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = await open_staff(await make_client(nats_url=own_nats_server.url))
    drill = await outage(staff)
    link = nats_stops_before_the_second_chunk(staff, own_nats_server, monkeypatch)
    response = await staff.client.post(
        drill.path(), json={"action": "accept"}, headers={"Authorization": f"Bearer {staff.tokens[POWER]}"}
    )
    problem = await response.json(content_type=None)
    assert response.status == 503, problem
    assert response.headers["Retry-After"].isdigit()
    assert problem["acted"] == 10 and len(problem["complaint_ids"]) == 10
    assert "10 of 30" in problem["detail"]
    stored = {UUID(i) for i in problem["complaint_ids"]}

    await asyncio.to_thread(own_nats_server.start)
    await wait_until(lambda: link.client is not None and link.client.is_connected, "NATS back", 20)
    assert await statuses(staff, list(stored)) == {Status.ACCEPTED}
    rest = [i for i in drill.power if i not in stored]
    assert await statuses(staff, rest) == {Status.DISPATCHED}  # not half-written

    status, answer = await staff.post(drill.path(), POWER, {"action": "accept"})
    assert status == 200 and {UUID(i) for i in answer["complaint_ids"]} == set(rest), answer
    assert answer["skipped"] == {"not_dispatched": 10}


async def test_the_store_filling_part_way_answers_event_store_full_naming_what_was_stored(
    make_client: MakeClient, small_nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = await open_staff(await make_client(nats_url=small_nats_server.url))
    drill = await outage(staff)
    monkeypatch.setattr(commands_bulk, "CHUNK", 10)  # three chunks of ten
    store = staff.aggregates.store

    async def store_fills() -> None:  # just before the second chunk is stored: JetStream has no room left
        await fill_up(store)

    interpose(staff, {2: store_fills})
    response = await staff.client.post(
        drill.path(), json={"action": "accept"}, headers={"Authorization": f"Bearer {staff.tokens[POWER]}"}
    )
    problem = await response.json(content_type=None)
    assert response.status == 503, problem
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert problem["code"] == "event_store_full" and response.headers["Retry-After"] == "60"
    assert problem["title"] == "The event store is full"
    assert (
        "10 of 30 complaints were stored" in problem["detail"]
        and "none of the others was" in problem["detail"]
    )
    assert "added storage" in problem["detail"]
    assert problem["acted"] == 10 and len(problem["complaint_ids"]) == 10
    stored = {UUID(i) for i in problem["complaint_ids"]}
    assert await statuses(staff, list(stored)) == {Status.ACCEPTED}
    rest = [i for i in drill.power if i not in stored]
    assert await statuses(staff, rest) == {Status.DISPATCHED}  # not half-written

    # An operator adds room and restarts nats-server: asking again acts on the rest, and only on them.
    link = staff.client.app[keys.NATS_LINK]
    await asyncio.to_thread(small_nats_server.stop)
    small_nats_server.max_file_store = "64MB"
    await asyncio.to_thread(small_nats_server.start)
    await wait_until(lambda: link.client is not None and link.client.is_connected, "NATS back", 20)
    status, answer = await staff.post(drill.path(), POWER, {"action": "accept"})
    assert status == 200 and {UUID(i) for i in answer["complaint_ids"]} == set(rest), answer
    assert answer["skipped"] == {"not_dispatched": 10}


async def test_with_nats_down_it_is_503_with_retry_after_and_nothing_changes(
    make_client: MakeClient, own_nats_server: NatsServer
) -> None:
    staff = await open_staff(await make_client(nats_url=own_nats_server.url))
    drill = await outage(staff, power=5, water=0)
    await asyncio.to_thread(own_nats_server.kill)
    link = staff.client.app[keys.NATS_LINK]
    await wait_until(lambda: link.client is not None and not link.client.is_connected, "NATS gone", 10)
    response = await staff.client.post(
        drill.path(), json={"action": "accept"}, headers={"Authorization": f"Bearer {staff.tokens[POWER]}"}
    )
    assert response.status == 503 and response.headers["Retry-After"].isdigit()
    await asyncio.to_thread(own_nats_server.start)
    await wait_until(lambda: link.client is not None and link.client.is_connected, "NATS back", 20)
    assert await statuses(staff, drill.power) == {Status.DISPATCHED}
