"""Answers from published facts settle a call at first contact; an agreed resolution time obeys its bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from events.complaint import Complaint
from services.api import commands
from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import aggregates, assess, event_names, load, published_notice

CALLS = "/api/v1/operator/calls"
QUESTION = "When will the power come back in Riverside? Nobody told us anything."


async def test_a_published_notice_settles_an_information_request_on_the_call(console: Console) -> None:
    notice_id = await published_notice(console.store)
    await console.project()
    facts = await console.ok("GET", "/api/v1/operator/facts?district=riverside&category=power_outage")
    assert [n["id"] for n in facts["notices"]] == [str(notice_id)]
    assert [a["code"] for a in facts["answers"]] == ["power_restoration_check"]

    body = {
        "complaint": hotline_call(QUESTION),
        "first_contact": {
            "answer_ref": f"notice:{notice_id}",
            "summary": "Read out the notice: back by 18:00",
        },
    }
    stored = await console.ok("POST", CALLS, json=body, status=201)
    assert stored["status"] == "resolved"
    # Received and resolved in one save: no worker could dispatch it in between.
    assert await event_names(console.store, stored["id"]) == ["ComplaintReceived", "ComplaintResolved"]
    complaint = await load(console.store, stored["id"])
    assert complaint.resolution is not None
    assert (complaint.resolution["outcome"], complaint.resolution["answer_ref"]) == (
        "first_contact",
        f"notice:{notice_id}",
    )
    await console.project()
    report = await console.ok("GET", "/api/v1/operator/report", role="command")
    assert report["first_contact"] == {
        "total": 1,
        "by_answer": [{"answer": f"notice:{notice_id}", "resolutions": 1}],
    }
    summary = await console.ok("GET", "/api/v1/reports/summary", role="command")
    assert summary["totals"]["first_contact_resolutions"] == 1


async def test_a_standard_answer_settles_an_existing_complaint(console: Console) -> None:
    stored = await console.ok("POST", CALLS, json={"complaint": hotline_call(QUESTION)}, status=201)
    state = await console.ok(
        "POST", f"/api/v1/complaints/{stored['id']}/first-contact-resolution",
        json={"answer_ref": "answer:power_restoration_check", "summary": "Explained where outages are listed"},
    )  # fmt: skip
    assert state["status"] == "resolved"


async def test_an_answer_not_from_published_facts_is_refused(console: Console) -> None:
    draft_only = "notice:00000000-0000-4000-8000-000000000099"
    for ref in (draft_only, "answer:made_up", "my own words"):
        body = {"complaint": hotline_call(QUESTION), "first_contact": {"answer_ref": ref, "summary": "told"}}
        response = await console.call("POST", CALLS, json=body)
        assert response.status == 422, ref
        assert (await response.json())["errors"][0]["field"] == "answer_ref"


async def test_agreed_time_waits_for_assessment_then_keeps_within_resolve_by(console: Console) -> None:
    stored = await console.ok("POST", CALLS, json={"complaint": hotline_call(QUESTION)}, status=201)
    path = f"/api/v1/complaints/{stored['id']}/agreed-resolution-time"
    now = datetime.now(UTC)
    soon = (now + timedelta(hours=2)).isoformat()
    response = await console.call("POST", path, json={"agreed_at": soon})
    assert response.status == 409 and (await response.json())["code"] == "not_assessed_yet"

    await assess(console.store, stored["id"], "P2", hours=24)
    past = await console.call("POST", path, json={"agreed_at": (now - timedelta(hours=1)).isoformat()})
    assert past.status == 422 and (await past.json())["code"] == "agreed_time_in_past"
    late = (now + timedelta(hours=30)).isoformat()
    beyond = await console.call("POST", path, json={"agreed_at": late})
    assert beyond.status == 422 and (await beyond.json())["code"] == "beyond_resolve_by_needs_approval"
    naive = await console.call("POST", path, json={"agreed_at": "2030-01-01T10:00:00"})
    assert naive.status == 422

    await console.ok("POST", path, json={"agreed_at": soon})
    await console.ok("POST", path, role="command", json={"agreed_at": late})  # command's own approval
    complaint = await load(console.store, stored["id"])
    assert complaint.agreed_resolution_at == datetime.fromisoformat(late)
    await console.project()
    [item] = (await console.ok("POST", "/api/v1/operator/caller-history", json={"phone": "13912345678"}))[
        "items"
    ]
    assert item["agreed_resolution_at"] is not None

    # A year's typo, even from command: refused, not stored. Stored, year 10000 in UTC stopped the read models.
    for typo, code in (
        ("9999-12-31T23:59:59-01:00", None),
        ("2206-07-01T18:00:00+08:00", "agreed_time_too_far"),
    ):
        refused = await console.call("POST", path, role="command", json={"agreed_at": typo})
        assert refused.status == 422, typo
        problem = await refused.json()
        assert problem["errors"][0]["field"] == "agreed_at" and (code is None or problem["code"] == code), (
            problem
        )
    assert (await load(console.store, stored["id"])).agreed_resolution_at == datetime.fromisoformat(late)


async def dispatched_and_accepted(console: Console, hours: int) -> tuple[str, Any]:
    """A call, assessed P2 with an assessment's resolve-by `hours` ahead, dispatched to power and signed for."""
    stored = await console.ok("POST", CALLS, json={"complaint": hotline_call(QUESTION)}, status=201)
    await assess(console.store, stored["id"], "P2", hours=hours)
    repo = aggregates(console.store)
    c = await repo.get(UUID(stored["id"]), Complaint)
    c.dispatch("power", by="dispatch", reason="category route")
    c.accept("power")
    await repo.save(c)
    return stored["id"], repo


async def test_an_agreed_time_is_bounded_by_the_resolve_by_the_watcher_has_not_the_assessments(
    console: Console,
) -> None:
    """Found by a review: the bound was the assessment's resolve-by, moved only by extensions, while the watcher's
    (and the board's) runs from the sign-for and restarts on a return or a reopen. An operator was refused a time
    before the real resolve-by, and could agree one days past it without command."""
    now = datetime.now(UTC)
    # The assessment said 1 h; the sign-for started the level's 24 h (P2): 5 h from now is within it.
    complaint_id, repo = await dispatched_and_accepted(console, hours=1)
    path = f"/api/v1/complaints/{complaint_id}/agreed-resolution-time"
    await console.ok("POST", path, json={"agreed_at": (now + timedelta(hours=5)).isoformat()})
    # A later agreement may still move within the level's time: the earlier agreement is no bound.
    await console.ok("POST", path, json={"agreed_at": (now + timedelta(hours=20)).isoformat()})

    # 14 days granted to water, which then returned it; power signed for it anew: its 24 h, not 14 days.
    c = await repo.get(UUID(complaint_id), Complaint)
    c.return_dispatch("power", "not ours: a water main")
    c.dispatch("water", by="dispatch", reason="next candidate")
    c.accept("water")
    c.request_extension("water", 20160, "parts from abroad")
    c.grant_extension("command desk", 20160)
    c.return_dispatch("water", "the main is drainage's")
    c.dispatch("drainage", by="dispatch", reason="next candidate")
    c.accept("drainage")
    await repo.save(c)
    beyond = await console.call("POST", path, json={"agreed_at": (now + timedelta(days=3)).isoformat()})
    assert beyond.status == 422, await beyond.text()
    assert (await beyond.json())["code"] == "beyond_resolve_by_needs_approval"


async def test_an_extension_granted_says_the_resolve_by_the_board_shows(console: Console) -> None:
    complaint_id, _ = await dispatched_and_accepted(console, hours=1)
    await console.ok(
        "POST", f"/api/v1/complaints/{complaint_id}/extension-requests", role="department:power",
        json={"minutes": 120, "reason": "crane needed"},
    )  # fmt: skip
    await console.ok(
        "POST",
        f"/api/v1/complaints/{complaint_id}/extension-requests/grant",
        role="command",
        json={"minutes": 120},
    )
    await console.project()
    board = await console.conn.fetchval(
        "SELECT resolve_by FROM levee_read.complaints WHERE id = $1", UUID(complaint_id)
    )
    [granted] = [
        e
        for e in await aggregates(console.store).history(UUID(complaint_id))
        if type(e).__name__ == "ExtensionGranted"
    ]
    assert granted.resolve_by == board


async def test_an_agreed_time_is_bounded_again_when_a_colleague_wrote_first(console: Console) -> None:
    """Found by a review: a command's `prepare` ran once, so after a conflict the retry applied the bound folded
    before it. Here power's 14-day extension is undone meanwhile (power returned the case and water signed for it:
    water's own 24 h): 3 days is then beyond the resolve-by, and needs command."""
    now = datetime.now(UTC)
    complaint_id, repo = await dispatched_and_accepted(console, hours=1)
    c = await repo.get(UUID(complaint_id), Complaint)
    c.request_extension("power", 20160, "parts from abroad")
    c.grant_extension("command desk", 20160)
    await repo.save(c)

    api_repo = console.client.server.app[commands.REPOSITORY]
    save = api_repo.save
    raced: list[int] = []

    async def colleague_first(*aggregates: Any, **kwargs: Any) -> None:
        if not raced:  # once, between the API's read and its write
            meanwhile = await repo.get(UUID(complaint_id), Complaint)
            meanwhile.return_dispatch("power", "not ours: a water main")
            meanwhile.dispatch("water", by="dispatch", reason="next candidate")
            meanwhile.accept("water")
            await repo.save(meanwhile)
            raced.append(meanwhile.version)
        await save(*aggregates, **kwargs)

    api_repo.save = colleague_first
    path = f"/api/v1/complaints/{complaint_id}/agreed-resolution-time"
    beyond = await console.call("POST", path, json={"agreed_at": (now + timedelta(days=3)).isoformat()})
    assert raced, "the colleague's write did not happen between the read and the write"
    assert beyond.status == 422, await beyond.text()
    assert (await beyond.json())["code"] == "beyond_resolve_by_needs_approval"
    assert (await load(console.store, complaint_id)).agreed_resolution_at is None
