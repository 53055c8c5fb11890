"""A department clerk racing colleagues and lost answers, and what the queue says command answered.

Found by a review of the /department page on a running system: pressing Return again after its answer was lost
was refused as a trespass (the return had landed and taken the case away); acting on a case re-dispatched away
while the page showed it read "403 not dispatched to water"; a denied extension, and command's reason, never
reached the department's queue.
"""

from __future__ import annotations

from uuid import UUID

from events.complaint import Complaint
from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import aggregates, assess, event_names

CALLS = "/api/v1/operator/calls"
POWER = "department:power"


async def dispatched(console: Console, department: str = "power", *, accept: bool = False) -> str:
    stored = await console.ok(
        "POST", CALLS, json={"complaint": hotline_call("No power in our block since noon.")}, status=201
    )
    await assess(console.store, stored["id"], "P2")
    repo = aggregates(console.store)
    c = await repo.get(UUID(stored["id"]), Complaint)
    c.dispatch(department, by="dispatch", reason="category route")
    if accept:
        c.accept(department)
    await repo.save(c)
    return str(stored["id"])


async def test_a_return_pressed_again_after_a_lost_answer_is_answered_as_done(console: Console) -> None:
    case = await dispatched(console)
    path, body = f"/api/v1/complaints/{case}/return", {"reason": "Not ours: a water main"}
    headers = {"Idempotency-Key": "return-LV-1"}
    await console.ok("POST", path, role=POWER, json=body, headers=headers)  # its answer lost on the way
    again = await console.call("POST", path, role=POWER, json=body, headers=headers)
    assert again.status == 200, await again.text()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await again.json())["status"] == "returned"
    assert (await event_names(console.store, case)).count("DispatchReturned") == 1

    # Without the key, or with another body, it is still refused: nothing proves it was this request.
    for sent_headers, sent in (({}, body), (headers, {"reason": "Something else"})):
        refused = await console.call("POST", path, role=POWER, json=sent, headers=sent_headers)
        assert refused.status in (409, 422), await refused.text()
    # A department that never held the case learns nothing from a key.
    water = await console.call(
        "POST", path, role="department:water", json=body, headers={"Idempotency-Key": "water-return-1"}
    )
    assert water.status == 403 and (await water.json())["code"] == "not_your_department"


async def test_acting_on_a_case_moved_away_meanwhile_says_a_colleague_moved_it(console: Console) -> None:
    case = await dispatched(console)
    await console.ok(
        "POST", f"/api/v1/complaints/{case}/dispatch", role="command",
        json={"department": "water", "reason": "a water main, not a cable"},
    )  # fmt: skip
    late = await console.call("POST", f"/api/v1/complaints/{case}/accept", role=POWER, json={})
    assert late.status == 409, await late.text()
    problem = await late.json()
    assert problem["code"] == "moved_meanwhile" and "nothing of yours was stored" in problem["detail"]
    assert "DispatchAccepted" not in await event_names(console.store, case)


async def test_the_queue_says_how_command_answered_the_latest_extension_request(console: Console) -> None:
    granted, denied, asking = [await dispatched(console, accept=True) for _ in range(3)]
    for case in (granted, denied, asking):
        await console.ok(
            "POST", f"/api/v1/complaints/{case}/extension-requests", role=POWER,
            json={"minutes": 120, "reason": "crane needed"},
        )  # fmt: skip
    await console.ok(
        "POST", f"/api/v1/complaints/{granted}/extension-requests/grant", role="command", json={"minutes": 60}
    )
    why = "Use the mobile pump at Harbour depot; no more time"
    await console.ok(
        "POST", f"/api/v1/complaints/{denied}/extension-requests/deny", role="command", json={"reason": why}
    )
    await console.project()
    queue = await console.ok("GET", "/api/v1/departments/power/queue", role=POWER)
    decisions = {item["id"]: item["extension_decision"] for item in queue["items"]}
    assert decisions[granted]["decision"] == "granted" and decisions[granted]["minutes"] == 60
    assert decisions[denied]["decision"] == "denied" and decisions[denied]["reason"] == why
    assert decisions[denied]["at"]
    assert decisions[asking] is None  # asked, not answered yet

    # Returned and taken by water: power's answer is not water's.
    await console.ok(
        "POST", f"/api/v1/complaints/{denied}/return", role=POWER, json={"reason": "a water main"}
    )
    await console.ok(
        "POST",
        f"/api/v1/complaints/{denied}/dispatch",
        role="command",
        json={"department": "water", "reason": "x"},
    )
    await console.project()
    water = await console.ok("GET", "/api/v1/departments/water/queue", role="department:water")
    assert [item["extension_decision"] for item in water["items"] if item["id"] == denied] == [None]
