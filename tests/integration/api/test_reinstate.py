"""A wrong rejection overruled: the board lists what triage rejected lately, command reinstates one through the API,
and every read model takes it as a case being handled again (the worker side: tests/integration/triage)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, assert_no_personal_data, flood_report, read_api

SHORT_CALL = "喂？水，水进屋了，快来 — call me back on 138 0013 8000"
REASON = "no clear facts: no target or event named"


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def rejected(api: Harness) -> tuple[UUID, str]:
    """A report through intake, rejected as triage rejects it; projected."""
    answer = await api.submit(flood_report(description=SHORT_CALL, category=None))
    complaint_id = UUID(answer["id"])
    repository = AggregateStore(api.store, make_mapper())
    complaint = await repository.get(complaint_id, Complaint)
    complaint.reject(REASON, by="triage")
    await repository.save(complaint)
    await api.project()
    return complaint_id, answer["tracking_code"]


async def reinstate(api: Harness, complaint_id: UUID, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await api.client.post(
        f"/api/v1/complaints/{complaint_id}/reinstate", json=body, headers=await api.headers("command")
    )
    return response.status, await response.json(content_type=None)


async def test_the_board_lists_a_rejection_and_command_reinstates_it(api: Harness) -> None:
    complaint_id, code = await rejected(api)
    board = await api.get_json("/api/v1/board", "command")
    [listed] = [r for r in board["rejected_recently"] if r["id"] == str(complaint_id)]
    assert (listed["tracking_code"], listed["reason"], listed["channel"]) == (code, REASON, "web")
    assert listed["rejected_at"] and listed["received_at"]
    assert listed["description"].startswith("喂？水，水进屋了")
    assert_no_personal_data(listed)  # the public text: the board may be on a wall (the phone is masked)
    assert board["counts"]["rejected_recently"] >= 1
    public = await api.get_json(f"/api/v1/status/{code}")
    assert (public["status"], public["reason"]) == ("not_accepted", REASON)

    status, answer = await reinstate(
        api, complaint_id, {"reason": "water inside a flat: real", "category": "flooding"}
    )
    assert status == 200, answer
    assert answer["status"] == "validated"
    await api.project()

    detail = await api.get_json(f"/api/v1/complaints/{complaint_id}", "command")
    assert (detail["status"], detail["category"], detail["rejection_reason"], detail["closed_at"]) == (
        "validated",
        "flooding",
        None,
        None,
    )
    last = detail["timeline"][-1]
    assert last["kind"] == "ComplaintReinstated"
    assert (
        last["detail"]["reason"] == "water inside a flat: real" and last["detail"]["category"] == "flooding"
    )
    board = await api.get_json("/api/v1/board", "command")
    assert str(complaint_id) not in {r["id"] for r in board["rejected_recently"]}
    public = await api.get_json(f"/api/v1/status/{code}")
    assert public["status"] != "not_accepted" and public["reason"] is None


async def test_a_reinstatement_refused_changes_nothing_and_says_why(api: Harness) -> None:
    complaint_id, _ = await rejected(api)
    repository = AggregateStore(api.store, make_mapper())
    version = (await repository.get(complaint_id, Complaint)).version

    status, problem = await reinstate(api, complaint_id, {"reason": "real", "category": "alien_landing"})
    assert status == 422 and problem["code"] == "unknown_category"
    assert [e["field"] for e in problem["errors"]] == ["category"]
    status, problem = await reinstate(api, complaint_id, {"category": "flooding"})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["reason"]
    assert (await repository.get(complaint_id, Complaint)).version == version

    # No category, and the reporter gave none: dispatch would have nothing to route it by.
    status, problem = await reinstate(api, complaint_id, {"reason": "a real flood"})
    assert status == 422 and problem["code"] == "category_required"
    assert [e["field"] for e in problem["errors"]] == ["category"]
    assert (await repository.get(complaint_id, Complaint)).version == version
    body = {"reason": "a real flood; the caller is in Westbay", "category": "flooding", "district": "westbay"}
    assert (await reinstate(api, complaint_id, body))[0] == 200
    await api.project()
    detail = await api.get_json(f"/api/v1/complaints/{complaint_id}", "command")
    # The wrong point is dropped: it would place and match the case wrongly.
    assert (detail["district"], detail["lat"], detail["lon"]) == ("westbay", None, None)
    status, problem = await reinstate(api, complaint_id, {"reason": "again", "category": None})
    assert status == 409 and problem["code"] == "not_rejected"
    assert problem["current"]["status"] == "validated"  # what it is now, for the page to show
    assert (await repository.get(complaint_id, Complaint)).version == version + 1

    not_command = await api.client.post(
        f"/api/v1/complaints/{complaint_id}/reinstate", json={"reason": "x"},
        headers=await api.headers("department:water"),
    )  # fmt: skip
    assert not_command.status == 403
