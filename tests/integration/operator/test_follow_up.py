"""Follow-up calls (回访): the queue (P1 first, then oldest), not reached, satisfied, and not satisfied, which
reopens to the department that resolved it; a second reopening escalates to command."""

from __future__ import annotations

from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import aggregates, load, resolved_by

QUEUE = "/api/v1/operator/follow-ups"


async def _resolved(console: Console, department: str, level: str, text: str) -> str:
    stored = await console.ok(
        "POST", "/api/v1/operator/calls", json={"complaint": hotline_call(text)}, status=201
    )
    await resolved_by(console.store, stored["id"], department, level)
    return str(stored["id"])


async def test_the_queue_puts_p1_first_then_the_oldest(console: Console) -> None:
    old_p3 = await _resolved(console, "power", "P3", "No power in the market hall since noon")
    new_p3 = await _resolved(console, "power", "P3", "Power cut in the school on Hill Road")
    p1 = await _resolved(console, "power", "P1", "Hospital annex without power, generators failing")
    await console.project()
    queue = await console.ok("GET", QUEUE)
    assert [item["id"] for item in queue["items"]] == [p1, old_p3, new_p3]
    # The operator rings back knowing the case: what was reported and what the department says it did (a review
    # found the row only a code, a level and a department).
    first = queue["items"][0]
    assert first["description"] == "Hospital annex without power, generators failing"
    assert first["resolution_summary"] == "Crew restored the supply"
    for role in ("command", "press", "department:power"):
        assert (await console.call("GET", QUEUE, role)).status == 403


async def test_not_satisfied_reopens_to_the_resolver_and_twice_goes_to_command(console: Console) -> None:
    case = await _resolved(console, "power", "P2", "No power on our whole street since 6 this morning")
    path = f"/api/v1/complaints/{case}/follow-up-calls"
    refused = await console.call("POST", path, json={"outcome": "not_satisfied"})
    assert refused.status == 422
    state = await console.ok(
        "POST", path, json={"outcome": "not_satisfied", "reason": "Power still flickers"}
    )
    assert (state["status"], state["department"], state["escalation_level"]) == ("reopened", "power", 0)
    await console.project()
    queue = await console.ok("GET", "/api/v1/departments/power/queue", role="department:power")
    assert case in [item["id"] for item in queue["items"]]

    repo = aggregates(console.store)
    complaint = await load(console.store, case)
    complaint.resolve("power", "Replaced the transformer")
    await repo.save(complaint)
    state = await console.ok("POST", path, json={"outcome": "not_satisfied", "reason": "Still flickering"})
    assert (state["status"], state["escalation_level"]) == ("reopened", 2)
    await console.project()
    report = await console.ok("GET", "/api/v1/operator/report", role="command")
    [power] = [d for d in report["by_department"] if d["department"] == "power"]
    assert power["reopened"] == 1


async def test_not_reached_is_tried_again_until_the_attempts_run_out(console: Console) -> None:
    case = await _resolved(console, "water", "P2", "No water in the building since yesterday")
    path = f"/api/v1/complaints/{case}/follow-up-calls"
    for attempt in (1, 2):
        await console.ok("POST", path, json={"outcome": "not_reached", "reason": f"no answer {attempt}"})
        await console.project()
        assert case in [i["id"] for i in (await console.ok("GET", QUEUE))["items"]]
    await console.ok("POST", path, json={"outcome": "not_reached"})
    complaint = await load(console.store, case)
    assert complaint.follow_up_attempts == 3 and complaint.follow_ups[-1]["contacted"] is False
    await console.project()
    assert case not in [i["id"] for i in (await console.ok("GET", QUEUE))["items"]]
    again = await console.call("POST", path, json={"outcome": "not_reached"})
    assert again.status == 409


async def test_satisfied_is_recorded_and_counted(console: Console) -> None:
    case = await _resolved(console, "water", "P2", "No water in the building since yesterday")
    state = await console.ok(
        "POST", f"/api/v1/complaints/{case}/follow-up-calls", json={"outcome": "satisfied"}
    )
    assert state["status"] == "followed_up"
    await console.project()
    report = await console.ok("GET", "/api/v1/operator/report", role="command")
    [water] = [d for d in report["by_department"] if d["department"] == "water"]
    assert (water["satisfied"], water["satisfaction_rate"]) == (1, 1.0)


async def test_a_follow_up_that_reached_nobody_keeps_the_case_resolved_and_queued(console: Console) -> None:
    """A follow-up recorded as not contacted before any call was tried: the case is still to be called back (it cannot be
    closed yet), so it stays in the operator's queue and reads resolved. A projection that read the record as
    a follow-up done showed it as followed up and took it off the queue: nobody would ever ring the caller."""
    case = await _resolved(console, "water", "P2", "No water in the building since yesterday")
    state = await console.ok("POST", f"/api/v1/complaints/{case}/follow-ups", json={"contacted": False})
    assert state["status"] == "resolved"
    await console.project()
    assert case in [item["id"] for item in (await console.ok("GET", QUEUE))["items"]]
    detail = await console.ok("GET", f"/api/v1/complaints/{case}")
    assert detail["status"] == "resolved"
    refused = await console.call("POST", f"/api/v1/complaints/{case}/close")
    assert refused.status == 409  # the call is still owed, as the queue says
    # Not reached on every attempt the guide allows: off the queue, and still resolved (not followed up) until
    # it is closed.
    tried = await _resolved(console, "water", "P2", "No water on the third floor since this morning")
    for _ in range(3):
        await console.ok(
            "POST", f"/api/v1/complaints/{tried}/follow-up-calls", json={"outcome": "not_reached"}
        )
    await console.project()
    assert tried not in [item["id"] for item in (await console.ok("GET", QUEUE))["items"]]
    assert (await console.ok("GET", f"/api/v1/complaints/{tried}"))["status"] == "resolved"
