"""Idempotency-Key on staff commands, incident declarations and notice drafts: a retried POST whose answer was
lost gets the first answer (`Idempotent-Replayed: true`), never a second record, across processes and races."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.held import HeldAggregates
from services.api import keys
from services.api.auth import TOKENS
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
NOTICE_TEXT = {
    "title_en": "Harbour Road flooding", "title_zh": "海港路水浸",
    "body_en": "Crews are pumping water; avoid the area.", "body_zh": "正在抽水，请绕行。", "status": "identified",
}  # fmt: skip
INCIDENT = {"title": "Harbour flood", "kind": "flood", "districts": []}

Answer = tuple[int, dict[str, Any], bool]  # status, body, replayed


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def send(
    staff: Staff, path: str, role: str, body: Any, key: str | None, *, token: str | None = None
) -> Answer:
    headers = {"Authorization": f"Bearer {token or staff.tokens[role]}"}
    if key is not None:
        headers[KEY] = key
    response = await staff.client.post(path, json=body, headers=headers)
    return response.status, await response.json(content_type=None), response.headers.get(REPLAYED) == "true"


async def topics(staff: Staff, aggregate_id: uuid.UUID | str) -> list[str]:
    """The event classes on the aggregate's subject, in order."""
    store = staff.aggregates.store
    messages = await store.read_subject(store.spec.event_subject(aggregate_id))
    return [m.headers["Levee-Topic"].rpartition(":")[2] for m in messages]


async def stream_count(staff: Staff, topic: str) -> int:
    store = staff.aggregates.store
    return [
        m.headers["Levee-Topic"].rpartition(":")[2]
        for m in await store.read_subject(store.spec.events_filter)
    ].count(topic)


async def second_token(staff: Staff, role: str) -> str:
    return (await staff.client.app[TOKENS].create(role, f"second {role} desk"))[0]


async def resolved_case(staff: Staff) -> Complaint:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    await staff.command(case.id, "resolve", f"department:{DEPT}", {"summary": "Main repaired"})
    return case


def note_path(case: Complaint) -> str:
    return f"/api/v1/complaints/{case.id}/progress"


# -- a department's progress note ---------------------------------------------------------------------


async def test_a_progress_note_sent_twice_with_one_key_is_noted_once_and_answered_as_a_replay(
    staff: Staff,
) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    body = {"text": "Crew on site", "public": False}
    first = await send(staff, note_path(case), f"department:{DEPT}", body, "note-key-0001")
    again = await send(staff, note_path(case), f"department:{DEPT}", body, "note-key-0001")
    assert first[0] == 200 and not first[2], first
    assert again[0] == 200 and again[2], again
    assert again[1] == first[1], "the replay answers the case as it is: nothing changed since"
    assert (await topics(staff, case.id)).count("ProgressNoted") == 1
    store = staff.aggregates.store
    marks = [
        m.headers.get("Levee-Request") for m in await store.read_subject(store.spec.event_subject(case.id))
    ]
    assert len([mark for mark in marks if mark]) == 1, "on the note's event only"
    assert not any("note-key-0001" in (mark or "") for mark in marks), "the key itself is never stored"


async def test_a_key_reused_with_another_body_is_refused_naming_the_header_and_nothing_is_written(
    staff: Staff,
) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    await send(staff, note_path(case), f"department:{DEPT}", {"text": "Crew on site"}, "note-key-0002")
    before = await topics(staff, case.id)
    status, problem, replayed = await send(
        staff, note_path(case), f"department:{DEPT}", {"text": "Crew gone home"}, "note-key-0002"
    )
    assert status == 422 and not replayed, problem
    assert problem["code"] == "idempotency_key_reused"
    assert [e["field"] for e in problem["errors"]] == [KEY]
    assert await topics(staff, case.id) == before


async def test_identical_keyed_notes_sent_at_once_are_noted_once(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    body = {"text": "Pumps running"}
    answers = await asyncio.gather(
        *(send(staff, note_path(case), f"department:{DEPT}", body, "note-key-0003") for _ in range(4))
    )
    assert {status for status, _, _ in answers} == {200}, answers
    assert sum(not replayed for _, _, replayed in answers) == 1, "one stored it, the others replay it"
    assert (await topics(staff, case.id)).count("ProgressNoted") == 1


async def test_the_same_key_from_another_token_is_another_request(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    other = await second_token(staff, f"department:{DEPT}")
    body = {"text": "Crew on site"}
    mine = await send(staff, note_path(case), f"department:{DEPT}", body, "shared-key-01")
    theirs = await send(staff, note_path(case), f"department:{DEPT}", body, "shared-key-01", token=other)
    assert mine[0] == theirs[0] == 200 and not mine[2] and not theirs[2], (mine, theirs)
    assert (await topics(staff, case.id)).count("ProgressNoted") == 2


async def test_the_same_key_on_another_command_is_another_request(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    noted = await send(
        staff, note_path(case), f"department:{DEPT}", {"text": "Crew on site"}, "reused-key-01"
    )
    called = await send(staff, f"/api/v1/complaints/{case.id}/repeat-calls", "operator", {"note": "Still wet"},
                        "reused-key-01")  # fmt: skip
    assert noted[0] == called[0] == 200 and not called[2], (noted, called)


async def test_without_a_key_two_notes_are_two(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    for _ in range(2):
        status, answer, replayed = await send(
            staff, note_path(case), f"department:{DEPT}", {"text": "x"}, None
        )
        assert status == 200 and not replayed, answer
    assert (await topics(staff, case.id)).count("ProgressNoted") == 2


async def test_a_malformed_key_is_refused_before_anything_is_written(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", f"department:{DEPT}")
    before = await topics(staff, case.id)
    status, problem, _ = await send(staff, note_path(case), f"department:{DEPT}", {"text": "x"}, "short")
    assert status == 400 and problem["code"] == "bad_idempotency_key", problem
    assert await topics(staff, case.id) == before


async def test_a_state_move_retried_with_its_key_is_answered_not_refused(staff: Staff) -> None:
    case = await staff.dispatched_case()
    path = f"/api/v1/complaints/{case.id}/accept"
    first = await send(staff, path, f"department:{DEPT}", {}, "accept-key-01")
    again = await send(staff, path, f"department:{DEPT}", {}, "accept-key-01")
    assert first[0] == 200 and again[0] == 200 and again[2], (first, again)
    assert again[1]["status"] == "accepted"
    assert (await topics(staff, case.id)).count("DispatchAccepted") == 1


# -- an operator's follow-up record, follow-up attempt and repeat call ----------------------------------

OPERATOR_COMMANDS = [
    (
        "follow-ups",
        {"contacted": True, "satisfaction": "satisfied"},
        {"contacted": False},
        "FollowUpRecorded",
    ),
    ("follow-up-attempts", {"note": "No answer"}, {"note": "Line busy"}, "FollowUpAttempted"),
    ("repeat-calls", {"note": "Water still rising"}, {"note": "Another street now"}, "ComplaintCallRepeated"),
]


@pytest.mark.parametrize(("action", "body", "other_body", "topic"), OPERATOR_COMMANDS)
async def test_an_operator_record_sent_twice_with_one_key_is_recorded_once(
    staff: Staff, action: str, body: dict[str, Any], other_body: dict[str, Any], topic: str
) -> None:
    case = await resolved_case(staff) if action.startswith("follow-up") else await staff.dispatched_case()
    path = f"/api/v1/complaints/{case.id}/{action}"
    first = await send(staff, path, "operator", body, f"{action}-key")
    again = await send(staff, path, "operator", body, f"{action}-key")
    assert first[0] == again[0] == 200 and not first[2] and again[2], (first, again)
    status, problem, _ = await send(staff, path, "operator", other_body, f"{action}-key")
    assert status == 422 and problem["errors"][0]["field"] == KEY, problem
    raced = await asyncio.gather(*(send(staff, path, "operator", body, f"{action}-raced") for _ in range(3)))
    assert {answer[0] for answer in raced} == {200}, raced
    other = await send(
        staff, path, "operator", body, f"{action}-key", token=await second_token(staff, "operator")
    )
    assert other[0] == 200 and not other[2], other
    assert (await topics(staff, case.id)).count(topic) == 3, "the first, the race's one, the other operator's"


# -- creations: a press officer's notice draft, command's incident declaration --------------------------

CREATIONS = [
    ("/api/v1/notices", "press", {"incident_id": None, **NOTICE_TEXT}, {"incident_id": None, **NOTICE_TEXT,
                                                                        "status": "monitoring"}, "NoticeDrafted"),
    ("/api/v1/incidents", "command", INCIDENT, {**INCIDENT, "title": "Harbour fire"}, "IncidentDeclared"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "role", "body", "other_body", "topic"), CREATIONS)
async def test_a_creation_sent_twice_with_one_key_makes_one_record(
    staff: Staff, path: str, role: str, body: dict[str, Any], other_body: dict[str, Any], topic: str
) -> None:
    first = await send(staff, path, role, body, "create-key-01")
    again = await send(staff, path, role, body, "create-key-01")
    assert first[0] == again[0] == 201 and not first[2] and again[2], (first, again)
    assert again[1] == first[1]
    assert await topics(staff, first[1]["id"]) == [topic]
    assert await stream_count(staff, topic) == 1


@pytest.mark.parametrize(("path", "role", "body", "other_body", "topic"), CREATIONS)
async def test_a_creation_key_reused_with_another_body_is_refused_and_nothing_is_made(
    staff: Staff, path: str, role: str, body: dict[str, Any], other_body: dict[str, Any], topic: str
) -> None:
    first = await send(staff, path, role, body, "create-key-02")
    status, problem, replayed = await send(staff, path, role, other_body, "create-key-02")
    assert first[0] == 201 and status == 422 and not replayed, (first, problem)
    assert problem["code"] == "idempotency_key_reused" and problem["errors"][0]["field"] == KEY
    assert await stream_count(staff, topic) == 1


@pytest.mark.parametrize(("path", "role", "body", "other_body", "topic"), CREATIONS)
async def test_identical_keyed_creations_sent_at_once_make_one_record(
    staff: Staff, path: str, role: str, body: dict[str, Any], other_body: dict[str, Any], topic: str
) -> None:
    answers = await asyncio.gather(*(send(staff, path, role, body, "create-key-03") for _ in range(4)))
    assert {status for status, _, _ in answers} == {201}, answers
    assert len({answer["id"] for _, answer, _ in answers}) == 1
    assert sum(not replayed for _, _, replayed in answers) == 1
    assert await stream_count(staff, topic) == 1


@pytest.mark.parametrize(("path", "role", "body", "other_body", "topic"), CREATIONS)
async def test_creations_by_two_tokens_with_one_key_or_without_a_key_are_separate(
    staff: Staff, path: str, role: str, body: dict[str, Any], other_body: dict[str, Any], topic: str
) -> None:
    mine = await send(staff, path, role, body, "create-key-04")
    theirs = await send(staff, path, role, body, "create-key-04", token=await second_token(staff, role))
    unkeyed = [await send(staff, path, role, body, None) for _ in range(2)]
    answers = [mine, theirs, *unkeyed]
    assert all(status == 201 and not replayed for status, _, replayed in answers), answers
    assert len({answer["id"] for _, answer, _ in answers}) == 4
    assert await stream_count(staff, topic) == 4


async def test_a_draft_retried_after_its_incident_merged_is_still_answered(staff: Staff) -> None:
    """The retry is answered from the stream before the incident is checked again: the draft was made."""
    declared = [
        (await send(staff, "/api/v1/incidents", "command", INCIDENT, None))[1]["id"] for _ in range(2)
    ]
    body = {"incident_id": declared[0], **NOTICE_TEXT}
    first = await send(staff, "/api/v1/notices", "press", body, "draft-key-05")
    merged = await send(staff, f"/api/v1/incidents/{declared[0]}/merge", "command",
                        {"into": declared[1], "reason": "one flood"}, None)  # fmt: skip
    assert first[0] == 201 and merged[0] == 200, (first, merged)
    again = await send(staff, "/api/v1/notices", "press", body, "draft-key-05")
    assert again[0] == 201 and again[2] and again[1]["id"] == first[1]["id"], again


# -- a long incident held in memory --------------------------------------------------------------------


async def test_a_keyed_command_on_a_held_incident_is_recorded_once(
    make_client: MakeClient,
) -> None:
    client: TestClient[web.Request, web.Application] = await make_client()
    staff = await open_staff(client)
    status, incident_answer, _ = await send(staff, "/api/v1/incidents", "command", INCIDENT, None)
    assert status == 201
    incident_id = uuid.UUID(incident_answer["id"])
    path = f"/api/v1/incidents/{incident_id}/status"
    # Keyed before the incident is long: the full read that first holds it must see the request.
    early = await send(staff, path, "command", {"status": "identified"}, "status-key-early")
    assert early[0] == 200 and not early[2], early
    incident = await staff.aggregates.get(incident_id, Incident)
    for _ in range(250):
        incident.link_complaint(uuid.uuid4())
    await staff.aggregates.save(incident)
    for _ in range(2):  # the full read that holds it, then the held copy
        replay = await send(staff, path, "command", {"status": "identified"}, "status-key-early")
        assert replay[0] == 200 and replay[2], replay
    assert client.app[keys.NATS_LINK].held.get(incident_id) is not None, "the API holds it now"
    # Keyed while held: the catch-up must see it, and so must the racing twins.
    raced = await asyncio.gather(*(send(staff, path, "command", {"status": "monitoring"}, "status-key-held")
                                   for _ in range(3)))  # fmt: skip
    assert {answer[0] for answer in raced} == {200} and sum(not a[2] for a in raced) == 1, raced
    again = await send(staff, path, "command", {"status": "monitoring"}, "status-key-held")
    assert again[0] == 200 and again[2], again
    assert (await topics(staff, incident_id)).count("IncidentStatusUpdated") == 2


async def test_held_copies_see_the_requests_as_of_their_version_only(store: JetStreamEventStore) -> None:
    from events.store.aggregates import RequestMark, requests_of  # the API this change adds

    writer = AggregateStore(store, make_mapper())
    reader = AggregateStore(store, make_mapper(), held=HeldAggregates(kinds=(Incident,), long_history=10))
    incident = Incident.declare(title="Substation fire", kind="power_outage", districts=[], declared_by="cmd")
    await writer.save(incident, request=RequestMark("a" * 32, "1" * 16))
    for _ in range(20):
        incident.link_complaint(uuid.uuid4())
    await writer.save(incident)
    held_copy = await reader.get(incident.id, Incident)  # read whole, held, and a copy handed out
    assert dict(requests_of(held_copy)) == {"a" * 32: "1" * 16}
    incident.update_status("identified", by="cmd")
    await writer.save(incident, request=RequestMark("b" * 32, "2" * 16))
    later_copy = await reader.get(incident.id, Incident)  # caught up
    assert dict(requests_of(later_copy)) == {"a" * 32: "1" * 16, "b" * 32: "2" * 16}
    assert dict(requests_of(held_copy)) == {"a" * 32: "1" * 16}, "a copy handed out keeps its own version's"
    assert dict(requests_of(await writer.get(incident.id, Incident))) == dict(requests_of(later_copy))


async def test_a_change_of_several_events_is_marked_on_its_last(store: JetStreamEventStore) -> None:
    """The mark is readable only once the whole change is: nats-server at its storage limit was seen to keep
    a batch's first message alone (jetstream.py, _resolve_ambiguous), and a retry that found the mark on it would
    answer a change half made (found by a review: an emergency transfer without its escalation to command)."""
    from events.store.aggregates import REQUEST, RequestMark  # the API this change adds

    incident = Incident.declare(title="Substation fire", kind="power_outage", districts=[], declared_by="cmd")
    incident.update_status("identified", by="cmd")
    incident.link_complaint(uuid.uuid4())  # three events, one change
    writes = await AggregateStore(store, make_mapper()).writes_for(
        incident, request=RequestMark("c" * 32, "3" * 16)
    )
    assert [REQUEST in w.headers for w in writes] == [False, False, True]
    assert writes[0].expected_last_seq == 0  # the check stays on the first: the batch is refused whole


async def test_linking_a_complaint_retried_with_its_key_is_answered_and_without_one_refused(
    staff: Staff,
) -> None:
    status, incident = await staff.post("/api/v1/incidents", "command", INCIDENT)
    assert status == 201, incident
    path = f"/api/v1/incidents/{incident['id']}/complaints"
    case = await staff.dispatched_case()
    body = {"complaint_id": str(case.id)}
    first = await send(staff, path, "command", body, "link-key-0001")
    again = await send(staff, path, "command", body, "link-key-0001")
    assert (first[0], first[2]) == (200, False) and (again[0], again[2]) == (200, True), (first, again)
    assert again[1]["complaints"] == 1
    assert (await topics(staff, incident["id"])).count("ComplaintAddedToIncident") == 1
    assert (await topics(staff, case.id)).count("ComplaintLinkedToIncident") == 1
    unkeyed = await send(staff, path, "command", body, None)
    assert (unkeyed[0], unkeyed[1]["code"]) == (409, "complaint_already_linked"), unkeyed
