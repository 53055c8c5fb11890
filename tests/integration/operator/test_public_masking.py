"""Personal data typed into free text never reaches a public output in clear; staff holding the case read it.

A description carrying a phone number, a resident ID number (valid checksum), an email and the reporter's own
name, and a public progress note carrying a number: the public status and Open311 `GET requests` show the
note masked and no description (the service's name); the masked description is kept for them in the read
model; command and the department holding the case see the original.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from events.complaint import Complaint
from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import aggregates, assess

NAME = "Chen Jianguo"  # the reporter hotline_call() sends
PERSONAL = ("13812345678", "11010519491231002X", "chen.jg@example.com", NAME)
DESCRIPTION = (
    f"No power since dawn. This is {NAME}, call me on 13812345678 or write to chen.jg@example.com; "
    "my ID is 11010519491231002X. 停电了"
)
NOTE = "Crew on the way; the foreman's mobile is 139 8765 4321"


async def _stored_with_public_note(console: Console) -> dict[str, Any]:
    stored = await console.ok("POST", "/api/v1/operator/calls", json={"complaint": hotline_call(DESCRIPTION)},
                              status=201)  # fmt: skip
    await assess(console.store, stored["id"])
    repo = aggregates(console.store)
    complaint = await repo.get(UUID(stored["id"]), Complaint)
    complaint.dispatch("power", by="dispatch", reason="category route")
    complaint.accept("power")
    complaint.note_progress("power", NOTE, public=True)
    await repo.save(complaint)
    await console.project()
    return stored


def _leaks(answer: Any) -> list[str]:
    text = json.dumps(answer, ensure_ascii=False)
    return [value for value in (*PERSONAL, "139 8765 4321") if value in text]


async def test_personal_data_in_free_text_is_masked_in_every_public_output(console: Console) -> None:
    stored = await _stored_with_public_note(console)
    status = await console.ok("GET", f"/api/v1/status/{stored['tracking_code']}", role=None)
    one = await console.ok("GET", f"/open311/v2/requests/{stored['id']}.json", role=None)
    by_code = await console.ok("GET", f"/open311/v2/requests.json?service_request_id={stored['tracking_code']}",
                               role=None)  # fmt: skip
    listed = [r for r in await console.ok("GET", "/open311/v2/requests.json", role=None)
              if r["service_request_id"] == stored["id"]]  # fmt: skip
    for answer in (status, one, by_code, listed):
        assert _leaks(answer) == [], answer
    # The note is masked, not dropped: the public still reads what is being done.
    assert status["progress"][0]["text"] == "Crew on the way; the foreman's mobile is *************"
    for answer in (one, by_code, listed):
        [request] = answer
        assert request["status_notes"] == status["progress"][0]["text"]
        assert request["description"] == "Power outage"  # the service's name, never the free text


async def test_the_read_model_keeps_the_description_masked_with_the_reporters_name(console: Console) -> None:
    stored = await _stored_with_public_note(console)
    masked = await console.conn.fetchval(
        "SELECT public_description FROM levee_read.complaints WHERE id = $1", UUID(stored["id"])
    )
    assert masked.startswith("No power since dawn. This is ************, call me on *********** or write to ")
    assert _leaks(masked) == [] and masked.endswith("停电了") and "*" * 18 in masked


async def test_staff_holding_the_case_read_the_original_text(console: Console) -> None:
    stored = await _stored_with_public_note(console)
    for role in ("command", "department:power"):
        detail = await console.ok("GET", f"/api/v1/complaints/{stored['id']}", role=role)
        assert detail["description"] == DESCRIPTION
        notes = [e["detail"]["text"] for e in detail["timeline"] if e["kind"] == "ProgressNoted"]
        assert notes == [NOTE]


async def test_the_public_form_masks_the_reporters_own_name(console: Console) -> None:
    body = {
        "channel": "web", "description": "王小明 reporting: the water main on my street burst",
        "category": "water_outage", "location": {"district": "westbay"}, "reporter": {"name": "王小明"},
    }  # fmt: skip
    answer = await console.ok("POST", "/api/v1/complaints", role=None, json=body, status=201)
    await console.project()
    masked = await console.conn.fetchval(
        "SELECT public_description FROM levee_read.complaints WHERE id = $1", UUID(answer["id"])
    )
    assert masked == "*** reporting: the water main on my street burst"


async def test_the_reporters_own_phone_is_masked_in_whatever_form_it_is_typed(console: Console) -> None:
    """A local form ("6987 4321", no country code, no mobile prefix) has no phone's shape: only knowing the
    reporter's number tells it is one (found by a review of erasure: it stayed in clear in the stream)."""
    call = hotline_call("Water in the hall, ring 6987 4321 or 69874321 when you come", phone="+852 6987 4321")
    stored = await console.ok("POST", "/api/v1/operator/calls", json={"complaint": call}, status=201)
    await console.project()
    masked = await console.conn.fetchval(
        "SELECT public_description FROM levee_read.complaints WHERE id = $1", UUID(stored["id"])
    )
    assert masked == "Water in the hall, ring ********* or ******** when you come"
