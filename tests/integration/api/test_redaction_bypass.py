"""A public note or a press notice may not carry a complainant's phone or name split by invisible characters, nor
their name said without the title it was typed with (found by a security review against a running system: the
notes were accepted and shown on the public status page as "call 13711112222" and "Liu Yang")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from events.complaint import Complaint
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff
from tests.support.notices import approval_of

NOTICE_TEXT = {
    "title_en": "Flooding", "title_zh": "水浸", "body_en": "Crews are pumping water.", "body_zh": "正在抽水。",
    "status": "identified",
}  # fmt: skip


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def file(staff: Staff, reporter: dict[str, str]) -> str:
    response = await staff.client.post("/api/v1/complaints", json={
        "channel": "web", "description": "Water up to the knees in the lobby", "reporter": reporter,
        "location": {"lat": 22.5, "lon": 113.9, "address": "海港路88号3栋502室"},
    })  # fmt: skip
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def accepted_by_water(staff: Staff, complaint_id: str) -> None:
    complaint = await staff.aggregates.get(uuid.UUID(complaint_id), Complaint)
    complaint.validate()  # triage's work: no worker runs in these tests
    now = datetime.now(UTC)
    complaint.assess_priority(
        60, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1)
    )
    await staff.aggregates.save(complaint)
    await staff.command(
        uuid.UUID(complaint_id), "dispatch", "command", {"department": DEPT, "reason": "pipes"}
    )
    await staff.command(uuid.UUID(complaint_id), "accept", f"department:{DEPT}")


async def test_a_public_note_may_not_split_the_complainants_phone_or_name_with_invisible_characters(
    staff: Staff,
) -> None:
    complaint_id = await file(staff, {"name": "Ms Liu Yang (mother)", "phone": "13711112222"})
    await accepted_by_water(staff, complaint_id)
    path, water = f"/api/v1/complaints/{complaint_id}/progress", f"department:{DEPT}"
    for leak in ("call 137\u00ad1111\u00ad2222", "call 137\u200e1111\u200e2222", "Liu\u00adYang will be called",
                 "L\u200biu Yang will be called", "Liu Yang will be called back"):  # fmt: skip
        status, problem = await staff.post(path, water, {"text": leak, "public": True})
        assert (status, problem.get("code")) == (422, "contains_personal_data"), (leak, problem)
        assert "1111" not in problem["detail"] and "Liu" not in problem["detail"], problem
    clean = "Crew on site ❤️, valve closed; to\u00admorrow we check again."
    assert (await staff.post(path, water, {"text": clean, "public": True}))[0] == 200
    assert [n["text"] for n in (await staff.complaint(uuid.UUID(complaint_id))).progress] == [clean]


async def test_a_notice_may_not_name_a_complainant_without_the_title_they_gave(staff: Staff) -> None:
    complaint_id = await file(staff, {"name": "王芳 女士"})
    status, incident = await staff.post(
        "/api/v1/incidents", "command", {"title": "Flood", "kind": "flood", "districts": []}
    )
    assert status == 201, incident
    status, linked = await staff.post(
        f"/api/v1/incidents/{incident['id']}/complaints", "command", {"complaint_id": complaint_id}
    )
    assert status == 200, linked
    for body_zh, publishable in (("已联系王芳，明天上门。", False), ("已联系住户，明天上门。", True)):
        text = {**NOTICE_TEXT, "body_zh": body_zh}
        status, notice = await staff.post("/api/v1/notices", "press", {"incident_id": incident["id"], **text})
        assert status == 201, notice
        status, answer = await staff.post(
            f"/api/v1/notices/{notice['id']}/approve", "command", approval_of(text)
        )
        assert status == 200, answer
        status, answer = await staff.post(f"/api/v1/notices/{notice['id']}/publish", "press", {})
        if publishable:
            assert (status, answer["state"]) == (200, "published"), answer
        else:
            assert (status, answer.get("code")) == (422, "contains_personal_data"), answer
            assert "王芳" not in str(answer), answer
