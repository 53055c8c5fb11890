"""Naming the person responsible (责任人) for a complaint or an incident through the HTTP API (command staff)."""

from __future__ import annotations

import uuid

import pytest

from events.complaint import Complaint, ComplaintResponsibleAssigned
from events.incident import Incident, IncidentResponsibleAssigned
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def _escalated_case(staff: Staff) -> Complaint:
    case = await staff.prioritised_case()
    await staff.command(case.id, "escalate", "command", {"level": 2, "reason": "media exposure, 300 homes"})
    return case


async def _history(staff: Staff, aggregate_id: uuid.UUID) -> list[object]:
    """The aggregate's events as stored."""
    return await staff.aggregates.history(aggregate_id)


async def _declare(staff: Staff) -> str:
    status, incident = await staff.post(
        "/api/v1/incidents", "command", {"title": "Harbour flood", "kind": "flood", "districts": []}
    )
    assert status == 201, incident
    assert incident["responsible"] is None
    return str(incident["id"])


async def test_command_names_a_person_for_an_escalated_case_and_hands_it_over(staff: Staff) -> None:
    case = await _escalated_case(staff)
    path = f"/api/v1/complaints/{case.id}/responsible"
    status, answer = await staff.post(
        path, "command", {"person": " Li  Wei ", "note": "duty officer tonight"}
    )
    assert status == 200, answer
    assert answer["status"] == "prioritised" and answer["escalation_level"] == 2
    status, answer = await staff.post(path, "command", {"person": "Zhang Min"})
    assert status == 200, answer

    complaint = await staff.complaint(case.id)
    assert complaint.responsible == "Zhang Min"
    status, again = await staff.post(path, "command", {"person": "zhang min"})
    assert status == 409 and again["code"] == "already_responsible", again
    assert (await staff.complaint(case.id)).version == complaint.version, "a refusal records nothing"


async def test_the_events_say_who_replaced_whom_and_who_decided(staff: Staff) -> None:
    case = await _escalated_case(staff)
    path = f"/api/v1/complaints/{case.id}/responsible"
    for person in ("Li Wei", "Zhang Min"):
        status, answer = await staff.post(path, "command", {"person": person})
        assert status == 200, answer
    events = await _history(staff, case.id)
    assigned = [e for e in events if isinstance(e, ComplaintResponsibleAssigned)]
    assert [(e.person, e.previous, e.note) for e in assigned] == [
        ("Li Wei", None, ""),
        ("Zhang Min", "Li Wei", ""),
    ]
    assert assigned[0].by == assigned[1].by != ""


async def test_a_closed_case_takes_nobody(staff: Staff) -> None:
    case = await staff.dispatched_case()
    for action, role, body in (
        ("accept", f"department:{DEPT}", None),
        ("resolve", f"department:{DEPT}", {"summary": "Valve replaced"}),
        ("close", "command", None),
    ):
        await staff.command(case.id, action, role, body)
    status, problem = await staff.post(
        f"/api/v1/complaints/{case.id}/responsible", "command", {"person": "Li Wei"}
    )
    assert status == 409 and problem["code"] == "complaint_closed", problem


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "person"),
        ({"person": "   "}, "person"),
        ({"person": 7}, "person"),
        ({"person": "x" * 101}, "person"),
        ({"person": "Li Wei", "level": 2}, "level"),
        ({"person": "Li Wei", "note": "n" * 1001}, "note"),
        ({"person": "Li\u0007Wei"}, "person"),
    ],
    ids=["missing", "blank", "not_text", "too_long", "unknown_field", "note_too_long", "control_character"],
)
async def test_a_bad_body_is_refused_naming_the_field(
    staff: Staff, body: dict[str, object], field: str
) -> None:
    case = await _escalated_case(staff)
    status, problem = await staff.post(f"/api/v1/complaints/{case.id}/responsible", "command", body)
    assert status == 422, problem
    assert field in [e["field"] for e in problem["errors"]], problem


@pytest.mark.parametrize("role", [None, "operator", "press", f"department:{DEPT}"])
async def test_only_command_staff_name_the_person_responsible(staff: Staff, role: str | None) -> None:
    case = await _escalated_case(staff)
    incident_id = await _declare(staff)
    for path in (f"/api/v1/complaints/{case.id}/responsible", f"/api/v1/incidents/{incident_id}/responsible"):
        status, problem = await staff.post(path, role, {"person": "Li Wei"})
        assert status == (401 if role is None else 403), (path, problem)
    assert (await staff.complaint(case.id)).responsible is None


@pytest.mark.parametrize("collection", ["complaints", "incidents"])
@pytest.mark.parametrize("ident", [str(uuid.uuid4()), "not-a-uuid"])
async def test_no_such_case_or_incident_is_404(staff: Staff, collection: str, ident: str) -> None:
    status, problem = await staff.post(
        f"/api/v1/{collection}/{ident}/responsible", "command", {"person": "Li Wei"}
    )
    assert status == 404 and problem["code"] == "not_found", problem


async def test_an_incident_gets_an_owner_until_it_is_resolved(staff: Staff) -> None:
    incident_id = await _declare(staff)
    path = f"/api/v1/incidents/{incident_id}/responsible"
    status, answer = await staff.post(path, "command", {"person": "王芳", "note": "flood desk"})
    assert status == 200 and answer["responsible"] == "王芳", answer
    status, answer = await staff.post(path, "command", {"person": "Li Wei"})
    assert status == 200 and answer["responsible"] == "Li Wei", answer
    status, again = await staff.post(path, "command", {"person": "Li Wei"})
    assert status == 409 and again["code"] == "already_responsible", again

    incident = await staff.aggregates.get(uuid.UUID(incident_id), Incident)
    assert incident.responsible == "Li Wei"
    assigned = [e for e in await _history(staff, incident.id) if isinstance(e, IncidentResponsibleAssigned)]
    assert [(e.person, e.previous, e.note) for e in assigned] == [
        ("王芳", None, "flood desk"),
        ("Li Wei", "王芳", ""),
    ]
    status, _ = await staff.post(f"/api/v1/incidents/{incident_id}/status", "command", {"status": "resolved"})
    assert status == 200
    status, problem = await staff.post(path, "command", {"person": "Zhang Min"})
    assert status == 409 and problem["code"] == "incident_resolved", problem


async def test_the_document_describes_both_commands(staff: Staff) -> None:
    document = await (await staff.client.get("/api/openapi.json")).json()
    for collection, operation_id in (
        ("complaints", "complaint_responsible"),
        ("incidents", "incident_responsible"),
    ):
        post = document["paths"][f"/api/v1/{collection}/{{id}}/responsible"]["post"]
        assert post["operationId"] == operation_id and "command" in post["description"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["person"] and body["properties"]["person"]["maxLength"] == 100
        assert set(post["responses"]) >= {"200", "403", "404", "409", "422"}
