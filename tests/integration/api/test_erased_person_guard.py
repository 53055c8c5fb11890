"""A complainant who asked to be forgotten is still never named in public: after the erasure the redaction guard
refuses their name, address and phone from the fingerprints kept when the key went (found by a review: once the
key was gone, a notice could thank them by name and address)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff
from tests.support.notices import approval_of

REPORTER = {"name": "Quorinda Vexhallow", "phone": "+852 6987 4321"}
LOCATION = {"lat": 22.5, "lon": 113.9, "address": "77 Marrowfield Lane"}
NAMING = "Thanks to Quorinda Vexhallow of 77 Marrowfield Lane for the report."
NOTICE_TEXT = {
    "title_en": "Marrowfield flooding", "title_zh": "水浸", "body_en": "Crews are pumping water.",
    "body_zh": "正在抽水。", "status": "identified",
}  # fmt: skip


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def file(staff: Staff, reporter: dict[str, str] = REPORTER) -> str:
    response = await staff.client.post("/api/v1/complaints", json={
        "channel": "web", "description": "Water up to the knees in the lobby", "reporter": reporter,
        "location": LOCATION,
    })  # fmt: skip
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def declare(staff: Staff) -> str:
    status, incident = await staff.post(
        "/api/v1/incidents", "command", {"title": "Flood", "kind": "flood", "districts": []}
    )
    assert status == 201, incident
    return str(incident["id"])


async def approved_notice(staff: Staff, incident_id: str, body_en: str) -> str:
    status, notice = await staff.post(
        "/api/v1/notices", "press", {"incident_id": incident_id, **NOTICE_TEXT, "body_en": body_en}
    )
    assert status == 201, notice
    text = {**NOTICE_TEXT, "body_en": body_en}
    status, answer = await staff.post(f"/api/v1/notices/{notice['id']}/approve", "command", approval_of(text))
    assert status == 200, answer
    return str(notice["id"])


async def publish(staff: Staff, notice_id: str) -> tuple[int, dict[str, object]]:
    return await staff.post(f"/api/v1/notices/{notice_id}/publish", "press", {})


async def test_a_notice_naming_an_erased_complainant_is_still_refused(staff: Staff) -> None:
    complaint_id = await file(staff)
    incident_id = await declare(staff)
    status, linked = await staff.post(
        f"/api/v1/incidents/{incident_id}/complaints", "command", {"complaint_id": complaint_id}
    )
    assert status == 200, linked
    naming = await approved_notice(staff, incident_id, NAMING)
    status, problem = await publish(staff, naming)
    assert (status, problem.get("code")) == (422, "contains_personal_data"), problem

    await staff.command(uuid.UUID(complaint_id), "redact", "command", {"reason": "asked to be forgotten"})

    for leak in (NAMING, "Vexhallow, Quorinda called us.", "Pumps at 77 marrowfield ln.", "Ask for 6987 4321."):
        notice_id = naming if leak == NAMING else await approved_notice(staff, incident_id, leak)
        status, problem = await publish(staff, notice_id)
        assert (status, problem.get("code")) == (422, "contains_personal_data"), (leak, problem)
        assert "erased_complainant" in str(problem["detail"]), problem
        assert not any(part in str(problem) for part in ("Quorinda", "Vexhallow", "Marrowfield", "6987")), (
            problem
        )

    clean = await approved_notice(
        staff, incident_id, "Pumps are working on Marrowfield Lane; avoid the area."
    )
    status, answer = await publish(staff, clean)
    assert (status, answer["state"]) == (200, "published"), answer


async def test_a_public_note_on_an_erased_case_may_not_name_its_complainant(staff: Staff) -> None:
    complaint_id = await file(staff)
    case = uuid.UUID(complaint_id)
    complaint = await staff.complaint(case)
    complaint.validate()  # triage's work: no worker runs in these tests
    now = datetime.now(UTC)
    complaint.assess_priority(
        60, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1)
    )
    await staff.aggregates.save(complaint)
    await staff.command(case, "dispatch", "command", {"department": DEPT, "reason": "pipes"})
    await staff.command(case, "accept", f"department:{DEPT}")
    await staff.command(case, "redact", "command", {"reason": "asked to be forgotten"})

    path, water = f"/api/v1/complaints/{complaint_id}/progress", f"department:{DEPT}"
    for leak in ("Spoke to quorinda vexhallow, crew on the way", "Crew at 77 Marrowfield Lane now"):
        status, problem = await staff.post(path, water, {"text": leak, "public": True})
        assert (status, problem.get("code")) == (422, "contains_personal_data"), (leak, problem)
        assert "erased_complainant" in problem["detail"] and "Marrowfield" not in problem["detail"], problem
    assert (await staff.post(path, water, {"text": "Crew on site, valve closed", "public": True}))[0] == 200
