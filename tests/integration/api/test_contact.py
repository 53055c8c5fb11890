"""Opening a complainant's contact details to call them back: who may, what they get, and what is logged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from prometheus_client import REGISTRY

from events.complaint import Complaint
from services.api import ratelimit
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, OTHER_DEPT, Staff, open_staff

REPORTER = {"name": "Chan Tai-man", "phone": "+852 9123 4567", "email": "chan.tm@example.org"}
ADDRESS = "12 Shore Road, flat 3B"


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def file(staff: Staff, **extra: object) -> str:
    response = await staff.client.post("/api/v1/complaints", json={
        "channel": "web", "description": "Water up to the knees in the lobby", **extra,
    })  # fmt: skip
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def prioritise(staff: Staff, complaint_id: str) -> None:
    complaint = await staff.aggregates.get(uuid.UUID(complaint_id), Complaint)
    complaint.validate()
    now = datetime.now(UTC)
    complaint.assess_priority(
        60, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1)
    )
    await staff.aggregates.save(complaint)


async def get(staff: Staff, complaint_id: str, role: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {staff.tokens[role]}"} if role else {}
    response = await staff.client.get(f"/api/v1/complaints/{complaint_id}/contact", headers=headers)
    return response.status, await response.json(content_type=None)


async def resolve(staff: Staff, complaint_id: str) -> None:
    await prioritise(staff, complaint_id)
    case = uuid.UUID(complaint_id)
    await staff.command(case, "dispatch", "command", {"department": DEPT, "reason": "pipes"})
    await staff.command(case, "accept", f"department:{DEPT}")
    await staff.command(case, "resolve", f"department:{DEPT}", {"summary": "Pumped out the lobby"})


async def test_the_operator_calling_back_gets_the_number_and_the_opening_is_logged_without_it(
    staff: Staff,
) -> None:
    complaint_id = await file(
        staff, reporter=REPORTER, location={"lat": 22.5, "lon": 113.9, "address": ADDRESS}
    )
    # Until the case is resolved and awaits its follow-up call, an operator's token opens nothing.
    status, problem = await get(staff, complaint_id, "operator")
    assert (status, problem["code"]) == (403, "not_awaiting_follow_up") and "9123" not in str(problem)
    assert (await get(staff, complaint_id, "command"))[0] == 200
    await resolve(staff, complaint_id)
    with structlog.testing.capture_logs() as captured:
        status, body = await get(staff, complaint_id, "operator")
    assert status == 200, body
    assert body == {"id": complaint_id, **REPORTER, "address": ADDRESS}
    opened = [r for r in captured if r["event"] == "personal_data_opened"]
    assert [(r["complaint_id"], r["by"]) for r in opened] == [(complaint_id, "operator")]
    # The token's id, never its name ("operator desk" here; a person's name in a real deployment).
    assert opened[0]["token_id"].startswith("tok_") and "operator desk" not in repr(opened)
    assert not any(secret in repr(captured) for secret in ("9123", "Chan Tai-man", "chan.tm", "Shore Road"))


async def test_press_the_public_and_other_departments_never_get_it(staff: Staff) -> None:
    complaint_id = await file(staff, reporter=REPORTER)
    await prioritise(staff, complaint_id)  # triage's work: no worker runs in these tests
    await staff.command(
        uuid.UUID(complaint_id), "dispatch", "command", {"department": DEPT, "reason": "pipes"}
    )
    assert (await get(staff, complaint_id, f"department:{DEPT}"))[0] == 200
    for role, refused in (("press", 403), (f"department:{OTHER_DEPT}", 403), (None, 401)):
        status, problem = await get(staff, complaint_id, role)
        assert status == refused and "9123" not in str(problem), (role, problem)


async def test_a_department_opens_it_only_while_it_holds_the_case(staff: Staff) -> None:
    """A department kept opening a caller's details after it resolved the case, and after it was closed, for ever:
    a leaked department token could page through its closed cases (found by a review)."""
    complaint_id = await file(staff, reporter=REPORTER)
    water = f"department:{DEPT}"
    await resolve(staff, complaint_id)  # dispatched and accepted on the way: it opened them then (above)
    status, problem = await get(staff, complaint_id, water)
    assert (status, problem["code"]) == (403, "not_handling") and "9123" not in str(problem)
    assert (await get(staff, complaint_id, "operator"))[0] == 200  # the follow-up call's turn
    case = uuid.UUID(complaint_id)
    await staff.command(case, "reopen", "command", {"reason": "still flooded"})
    assert (await get(staff, complaint_id, water))[0] == 200  # back with it


async def test_no_reporter_gives_nulls_and_an_erased_one_gives_410(staff: Staff) -> None:
    anonymous = await file(staff)
    assert await get(staff, anonymous, "command") == (
        200,
        {"id": anonymous, "name": None, "phone": None, "email": None, "address": None},
    )
    forgotten = await file(staff, reporter=REPORTER)
    await staff.command(uuid.UUID(forgotten), "redact", "command", {"reason": "asked to be forgotten"})
    status, problem = await get(staff, forgotten, "command")
    assert status == 410 and problem["code"] == "erased"
    assert (await get(staff, str(uuid.uuid4()), "operator"))[0] == 404


async def test_a_public_progress_note_may_not_name_the_complainant(staff: Staff) -> None:
    complaint_id = await file(
        staff, reporter=REPORTER, location={"lat": 22.5, "lon": 113.9, "address": ADDRESS}
    )
    await prioritise(staff, complaint_id)
    case = uuid.UUID(complaint_id)
    await staff.command(case, "dispatch", "command", {"department": DEPT, "reason": "pipes"})
    await staff.command(case, "accept", f"department:{DEPT}")
    path, water = f"/api/v1/complaints/{complaint_id}/progress", f"department:{DEPT}"
    for leak in ("Spoke to Chan Tai-man, crew on the way", "Crew at 12 Shore Road, flat 3B now",
                 "Call us back on +852 9123 4567"):  # fmt: skip
        status, problem = await staff.post(path, water, {"text": leak, "public": True})
        assert status == 422 and problem["code"] == "contains_personal_data", (leak, problem)
        assert problem["errors"][0]["field"] == "text" and "9123" not in problem["detail"]
    # Internal notes are the department's own record: names are allowed there.
    assert (await staff.post(path, water, {"text": "Spoke to Chan Tai-man", "public": False}))[0] == 200
    assert (await staff.post(path, water, {"text": "Crew on site, valve closed", "public": True}))[0] == 200
    notes = (await staff.complaint(case)).progress
    assert [(n["text"], n["public"]) for n in notes] == [
        ("Spoke to Chan Tai-man", False),
        ("Crew on site, valve closed", True),
    ]


async def test_a_token_opening_details_faster_than_anyone_calls_is_slowed_and_each_opening_counted(
    make_client: MakeClient,
) -> None:
    """A leaked operator token read every resolved caller's details in a loop (a security review): each token has
    a bucket of openings (default 60 at once, then one every 10 s), refusals charged too; other tokens keep theirs."""
    limits = ratelimit.RateLimits(personal_data=ratelimit.Bucket(rate=0.001, burst=3))
    staff = await open_staff(await make_client(limits=limits))
    complaint_id = await file(staff, reporter=REPORTER)
    await prioritise(staff, complaint_id)

    def opened(role: str) -> float:
        return REGISTRY.get_sample_value("levee_personal_data_opened_total", {"role": role}) or 0.0

    def refused() -> float:  # what the alert LeveePersonalDataOpenedInBulk watches, at 0 from the start
        value = REGISTRY.get_sample_value("levee_personal_data_refused_total")
        assert value is not None
        return value

    before, refused_before = opened("command"), refused()
    for _ in range(3):
        assert (await get(staff, complaint_id, "command"))[0] == 200
    status, problem = await get(staff, complaint_id, "command")
    assert (status, problem["code"]) == (429, "rate_limited") and "openings of contact details" in problem[
        "detail"
    ]
    assert opened("command") == before + 3  # what was opened, not what was refused
    assert refused() == refused_before + 1
    # The operator's token has its own bucket: refused for what the case is, not for the command token's loop.
    assert (await get(staff, complaint_id, "operator"))[1]["code"] == "not_awaiting_follow_up"
    for _ in range(2):
        assert (await get(staff, complaint_id, "operator"))[0] == 403
    assert (await get(staff, complaint_id, "operator"))[0] == 429
