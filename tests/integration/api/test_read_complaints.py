"""Staff reads of complaints: who may list and open them, filters, paging, and department isolation."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, read_api
from tests.integration.projections.day import _assess, _receive


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


def ids(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("press", 403)])
async def test_complaint_list_and_detail_are_refused_to_the_public_and_the_press(
    api: Harness, role: str | None, status: int
) -> None:
    complaint = str(api.day.complaints["handling"])
    for path in ("/api/v1/complaints", f"/api/v1/complaints/{complaint}"):
        response = await api.get(path, role)
        assert response.status == status
        assert response.content_type == "application/problem+json"


async def test_command_lists_every_complaint_newest_first(api: Harness) -> None:
    page = await api.get_json("/api/v1/complaints", "command")
    assert ids(page) == {str(i) for i in api.day.complaints.values()}
    stamps = [item["received_at"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "dispatched"}, {"waiting"}),
        ({"status": "accepted,dispatched"}, {"waiting", "handling"}),
        ({"level": "P1"}, {"long", "handling"}),
        ({"level": "P1", "status": "accepted"}, {"handling"}),
        ({"department": "drainage"}, {"long", "handling"}),
        ({"district": "riverside"}, {"long", "handling", "duplicate"}),
        ({"overdue": "false", "status": "dispatched"}, {"waiting"}),
        ({"overdue": "true"}, set()),
    ],
)
async def test_filters_select_the_complaints_they_name(api: Harness, params: dict, expected: set) -> None:
    page = await api.get_json("/api/v1/complaints", "operator", **params)
    assert ids(page) == {str(api.day.complaints[name]) for name in expected}


async def test_a_tracking_code_is_found_however_it_is_typed(api: Harness) -> None:
    code = api.day.codes["waiting"]
    for typed in (code, code.lower(), f" {code.lower()} "):  # as a caller reads it out, as /status takes it
        page = await api.get_json("/api/v1/complaints", "operator", tracking_code=typed)
        assert ids(page) == {str(api.day.complaints["waiting"])}, typed
    # Typed, but nothing of a code in it: nothing found, not every complaint (found by a review).
    for typed in ("。", "-", "，、"):
        assert ids(await api.get_json("/api/v1/complaints", "operator", tracking_code=typed)) == set(), typed


async def test_incident_filter_lists_the_incidents_complaints(api: Harness) -> None:
    page = await api.get_json("/api/v1/complaints", "command", incident=str(api.day.incident))
    assert ids(page) == {str(api.day.complaints["long"]), str(api.day.complaints["waiting"])}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "open-ish"}, "status"), ({"level": "P9"}, "level"), ({"department": "nasa"}, "department"),
     ({"incident": "x"}, "incident"), ({"overdue": "maybe"}, "overdue"), ({"limit": "0"}, "limit"),
     ({"cursor": "!!"}, "cursor"),
     # A cursor not made here, whose time is past what UTC holds (a 500 before).
     ({"cursor": base64.urlsafe_b64encode(f"9999-12-31T23:59:59-01:00|{uuid.uuid4()}".encode()).decode()},
      "cursor")],
)  # fmt: skip
async def test_a_wrong_filter_is_422_naming_it(api: Harness, params: dict, field: str) -> None:
    response = await api.get("/api/v1/complaints", "command", **params)
    assert response.status == 422
    body = await response.json()
    assert [e["field"] for e in body["errors"]] == [field]


async def test_paging_with_the_cursor_visits_every_complaint_once(api: Harness) -> None:
    seen: list[str] = []
    params = {"limit": "3"}
    for _ in range(10):
        page = await api.get_json("/api/v1/complaints", "command", **params)
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == len(api.day.complaints)


async def test_department_staff_see_only_their_own_departments_complaints(api: Harness) -> None:
    page = await api.get_json("/api/v1/complaints", "department:drainage")
    assert ids(page) == {str(api.day.complaints["long"]), str(api.day.complaints["handling"])}
    assert {item["department"] for item in page["items"]} == {"drainage"}

    other = await api.get("/api/v1/complaints", "department:drainage", department="power")
    assert other.status == 403
    assert (await other.json())["code"] == "not_your_department"

    held_by_power = await api.get(
        f"/api/v1/complaints/{api.day.complaints['waiting']}", "department:drainage"
    )
    assert held_by_power.status == 403


async def test_detail_has_the_timeline_oldest_first(api: Harness) -> None:
    complaint = api.day.complaints["handling"]
    detail = await api.get_json(f"/api/v1/complaints/{complaint}", "department:drainage")
    assert detail["id"] == str(complaint)
    assert detail["status"] == "accepted" and detail["level"] == "P1"
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds[0] == "ComplaintReceived" and kinds[-1] == "DispatchAccepted", kinds


@pytest.mark.parametrize("complaint", ["not-a-uuid", "6a8f1a3e-3b1c-4c55-9f0e-111111111111"])
async def test_detail_of_an_unknown_complaint_is_404(api: Harness, complaint: str) -> None:
    response = await api.get(f"/api/v1/complaints/{complaint}", "command")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_department_queue_counts_down_to_each_deadline(api: Harness) -> None:
    drainage = await api.get_json("/api/v1/departments/drainage/queue", "department:drainage")
    assert [item["id"] for item in drainage["items"]] == [str(api.day.complaints["handling"])]
    handling = drainage["items"][0]
    assert handling["seconds_to_accept"] is None
    assert 0 < handling["seconds_to_resolve"] <= 4 * 3600
    assert handling["description"]  # what the department needs to act on

    power = await api.get_json("/api/v1/departments/power/queue", "command")
    waiting = power["items"][0]
    assert waiting["status"] == "dispatched"
    assert 0 < waiting["seconds_to_accept"] <= 3600 and waiting["overdue"] is False


async def test_department_queue_gives_the_most_urgent_first_and_counts_them_all(api: Harness) -> None:
    """In a surge a department holds thousands of cases; the page asks for the most urgent 200 and the total."""
    more = [_receive("power_outage", 22.70, 113.95) for _ in range(2)]
    for complaint, level in zip(more, ("P1", "P3"), strict=True):
        complaint.validate()
        _assess(complaint, level, 90 if level == "P1" else 30)
        complaint.dispatch("power", by="dispatch-rules", reason="category route")
    await AggregateStore(api.store, make_mapper()).save(*more)
    await api.runner.catch_up()
    code = "power"
    full = await api.get_json(f"/api/v1/departments/{code}/queue", "command")
    assert full["total"] == len(full["items"]) == 3  # under the default limit: all of them
    assert full["items"][0]["id"] == str(more[0].id)  # the P1: its accept-by is the nearest
    first = await api.get_json(f"/api/v1/departments/{code}/queue?limit=1", "command")
    assert first["total"] == 3 and first["items"] == full["items"][:1]
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limt=5", "limt")):
        refused = await api.get(f"/api/v1/departments/{code}/queue?{query}", "command")
        assert refused.status == 422 and refused.content_type == "application/problem+json"
        assert field in {e["field"] for e in (await refused.json())["errors"]}


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [("/api/v1/departments/power/queue", "department:drainage", 403),
     ("/api/v1/departments/power/queue", "operator", 403),
     ("/api/v1/departments/power/queue", None, 401),
     ("/api/v1/departments/nowhere/queue", "command", 404)],
)  # fmt: skip
async def test_department_queue_refusals(api: Harness, path: str, role: str | None, status: int) -> None:
    assert (await api.get(path, role)).status == status
