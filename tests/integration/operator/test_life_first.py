"""Life first: danger to life makes every answer say "call 110/119/120 first", and a transfer is recorded on the
complaint, which is still stored and goes to command at once."""

from __future__ import annotations

from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import event_names, load

TRAPPED = "Water is rising in the underpass and two people are trapped in a car"


async def test_the_public_intake_answer_tells_the_citizen_to_call_first(console: Console) -> None:
    body = {
        "channel": "web",
        "description": TRAPPED,
        "category": "flooding",
        "location": {"district": "westbay"},
    }
    answer = await console.ok("POST", "/api/v1/complaints", role=None, json=body, status=201)
    assert answer["life_first"]["services"] == ["119"]
    assert "119" in answer["life_first"]["message_en"] and "119" in answer["life_first"]["message_zh"]
    calm = {**body, "description": "The streetlights on our road have been off for two nights"}
    assert (await console.ok("POST", "/api/v1/complaints", role=None, json=calm, status=201))[
        "life_first"
    ] is None


async def test_the_open311_answer_tells_the_citizen_to_call_first(console: Console) -> None:
    form = {"api_key": await console.token("operator"), "service_code": "106", "description": TRAPPED,
            "lat": "22.45", "long": "113.80"}  # fmt: skip
    response = await console.client.post("/open311/v2/requests.json", data=form)
    assert response.status == 201, await response.text()
    [answer] = await response.json()
    notice = answer["service_notice"]
    assert (
        notice.startswith("有生命危险：请先拨打 119") and "Danger to life: call 119 first" in notice
    )  # Chinese first


async def test_the_card_previews_the_transfer_before_submitting(console: Console) -> None:
    preview = await console.ok("POST", "/api/v1/operator/preview", json={"description": TRAPPED})
    assert preview["life_first"]["services"] == ["119"]


async def test_a_transfer_is_recorded_and_the_case_goes_to_command_at_once(console: Console) -> None:
    body = {
        "complaint": hotline_call(TRAPPED),
        "transfer": {"service": "119", "reason": "two people trapped"},
    }
    stored = await console.ok("POST", "/api/v1/operator/calls", json=body, status=201)
    assert stored["transferred_to"] == "119" and stored["life_first"]["services"] == ["119"]
    assert await event_names(console.store, stored["id"]) == [
        "ComplaintReceived",
        "EmergencyTransferRecorded",
        "ComplaintEscalated",
    ]
    complaint = await load(console.store, stored["id"])
    assert complaint.escalation_level == 2 and complaint.emergency_transfers[0]["service"] == "119"
    # A second transfer on the open case (now an ambulance too) is recorded; command already has it.
    await console.ok(
        "POST", f"/api/v1/complaints/{stored['id']}/emergency-transfers",
        json={"service": "120", "reason": "one of them is injured"},
    )  # fmt: skip
    await console.project()
    row = await console.conn.fetchrow(
        "SELECT emergency_service, emergency_transferred_at, escalation_level FROM levee_read.complaints "
        "WHERE id = $1::uuid",
        stored["id"],
    )
    assert (row["emergency_service"], row["escalation_level"]) == ("120", 2)
    report = await console.ok("GET", "/api/v1/operator/report", role="press")
    assert report["emergency_transfers"] == {"120": 1}


async def test_a_retried_call_answers_what_was_stored_and_a_key_reused_with_a_transfer_is_refused(
    console: Console,
) -> None:
    """The hotline's client retries with the same Idempotency-Key. If the operator added a transfer in between,
    answering "transferred to 119" from the request would claim a transfer that was never recorded."""
    headers = {"Authorization": f"Bearer {await console.token('operator')}", "Idempotency-Key": "call-0142"}
    call = {"complaint": hotline_call(TRAPPED)}
    first = await console.client.post("/api/v1/operator/calls", json=call, headers=headers)
    assert first.status == 201, await first.text()
    stored = await first.json()
    assert stored["transferred_to"] is None and "Idempotent-Replayed" not in first.headers

    moved = {**call, "transfer": {"service": "119", "reason": "two people trapped"}}
    refused = await console.client.post("/api/v1/operator/calls", json=moved, headers=headers)
    assert refused.status == 422, await refused.text()
    problem = await refused.json()
    assert problem["code"] == "idempotency_key_reused" and problem["errors"][0]["field"] == "Idempotency-Key"
    assert await event_names(console.store, stored["id"]) == ["ComplaintReceived"]  # no transfer stored

    again = await console.client.post("/api/v1/operator/calls", json=call, headers=headers)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == stored

    # A call stored with its transfer, retried, is answered with the transfer it recorded, once.
    headers["Idempotency-Key"] = "call-0143"
    answers = []
    for _ in range(2):
        response = await console.client.post("/api/v1/operator/calls", json=moved, headers=headers)
        assert response.status == 201, await response.text()
        answers.append(await response.json())
    assert answers[0] == answers[1] and answers[0]["transferred_to"] == "119"
    assert response.headers["Idempotent-Replayed"] == "true"
    names = await event_names(console.store, answers[0]["id"])
    assert names.count("EmergencyTransferRecorded") == 1, names


async def test_what_a_call_settled_is_text_like_any_other_a_control_character_is_refused(
    console: Console,
) -> None:
    """A word processor's soft line break in a transfer's reason was stored, though a command refuses it."""
    body = {"complaint": hotline_call(TRAPPED), "transfer": {"service": "119", "reason": "two\x0btrapped"}}
    response = await console.call("POST", "/api/v1/operator/calls", json=body)
    assert response.status == 422, await response.text()
    assert (await response.json())["errors"][0]["field"] == "transfer.reason"
