"""Every refused command is an RFC 9457 problem naming what was wrong; nothing is stored."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

import aiohttp
import pytest

from services.api.auth import TOKENS
from services.embedded.ports import free_port
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff

WATER = f"department:{DEPT}"


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


BAD_BODIES: list[tuple[str, Any, str, str]] = [
    ("unknown field", {"text": "ok", "department": "power"}, "department", "unknown field"),
    ("missing field", {"public": True}, "text", "is required"),
    ("wrong type", {"text": 42}, "text", "must be a string"),
    ("too long", {"text": "x" * 4001}, "text", "at most 4000 characters"),
    ("blank", {"text": "  \n "}, "text", "must not be blank"),
    ("boolean as string", {"text": "ok", "public": "yes"}, "public", "true or false"),
    ("not an object", ["text"], "", "JSON object"),
]


@pytest.mark.parametrize(
    ("case_name", "body", "field", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_a_bad_body_is_422_naming_the_field(
    staff: Staff, case_name: str, body: Any, field: str, message: str
) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", WATER)
    before = (await staff.complaint(case.id)).version
    status, problem = await staff.post(f"/api/v1/complaints/{case.id}/progress", WATER, body)
    assert status == 422, problem
    assert problem["status"] == 422 and problem["code"] == "invalid_fields"
    assert any(e["field"] == field and message in e["message"] for e in problem["errors"]), problem
    assert (await staff.complaint(case.id)).version == before


async def test_wrong_content_type_is_415_and_bad_json_400(staff: Staff) -> None:
    case = await staff.dispatched_case()
    path = f"/api/v1/complaints/{case.id}/return"
    auth = {"Authorization": f"Bearer {staff.tokens[WATER]}"}
    response = await staff.client.post(path, data="reason=x", headers={**auth, "Content-Type": "text/plain"})
    assert response.status == 415
    assert response.headers["Content-Type"].startswith("application/problem+json")
    response = await staff.client.post(
        path, data="{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status == 400 and (await response.json(content_type=None))["code"] == "invalid_json"
    # As intake reads JSON (found by a review): two values for one name, a BOM, nesting that exhausts Python.
    for body, says in (('{"reason": "", "reason": "not ours"}', "twice"), ('\ufeff{"reason": "x"}', "BOM"),
                       ('{"reason": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply")):  # fmt: skip
        response = await staff.client.post(
            path, data=body.encode(), headers={**auth, "Content-Type": "application/json"}
        )
        problem = await response.json(content_type=None)
        assert (response.status, problem["code"]) == (400, "invalid_json") and says in problem["detail"], (
            problem
        )


async def test_a_form_sent_to_a_command_is_415_and_does_nothing(staff: Staff) -> None:
    case = await staff.dispatched_case()
    before = (await staff.complaint(case.id)).version
    auth = {"Authorization": f"Bearer {staff.tokens[WATER]}"}
    form = aiohttp.FormData({"note": "on our way"}, default_to_multipart=True)
    response = await staff.client.post(f"/api/v1/complaints/{case.id}/accept", data=form, headers=auth)
    assert response.status == 415, await response.text()
    assert (await staff.complaint(case.id)).version == before


async def test_a_body_over_the_limit_is_413(staff: Staff) -> None:
    case = await staff.dispatched_case()
    status, problem = await staff.post(
        f"/api/v1/complaints/{case.id}/return", WATER, {"reason": "x" * 70_000}
    )
    assert status == 413 and problem["status"] == 413


@pytest.mark.parametrize("complaint_id", ["not-a-uuid", str(uuid.uuid4())])
async def test_an_unknown_complaint_is_404(staff: Staff, complaint_id: str) -> None:
    status, problem = await staff.post(f"/api/v1/complaints/{complaint_id}/close", "command", {})
    assert status == 404 and problem["code"] == "not_found"


async def test_a_value_the_model_refuses_is_422_naming_the_field(staff: Staff) -> None:
    case = await staff.prioritised_case()
    status, problem = await staff.post(
        f"/api/v1/complaints/{case.id}/dispatch", "command", {"department": "atlantis", "reason": "x"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "department", problem


async def test_a_command_out_of_order_is_409_saying_why(staff: Staff) -> None:
    case = await staff.dispatched_case()
    status, problem = await staff.post(f"/api/v1/complaints/{case.id}/resolve", WATER, {"summary": "done"})
    assert status == 409 and problem["code"] == "not_accepted"
    assert "accept" in problem["detail"]


async def test_text_is_stored_in_one_unicode_form(staff: Staff) -> None:
    case = await staff.dispatched_case()
    await staff.command(case.id, "accept", WATER)
    await staff.command(case.id, "progress", WATER, {"text": unicodedata.normalize("NFD", "Café 排水 ok")})
    assert (await staff.complaint(case.id)).progress[0]["text"] == unicodedata.normalize(
        "NFC", "Café 排水 ok"
    )


async def test_commands_answer_503_with_retry_after_while_nats_is_down(make_client: MakeClient) -> None:
    client = await make_client(nats_url=f"nats://127.0.0.1:{free_port()}", wait_ready=False)
    token, _ = await client.app[TOKENS].create("command", "Command desk")  # tokens need only PostgreSQL
    response = await client.post(
        f"/api/v1/complaints/{uuid.uuid4()}/close", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "NATS" in (await response.json(content_type=None))["detail"]
