"""The after-action summary (command and press; aggregates only) and the board JSON (command)."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.store import JetStreamEventStore
from services.api import keys
from tests.integration.pages.harness import Harness, assert_no_personal_data, flood_report, read_api


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_summary_for_an_incident_counts_its_complaints(api: Harness) -> None:
    report = await api.get_json("/api/v1/reports/summary", "command", incident=str(api.day.incident))
    assert report["totals"]["received"] == 2
    assert report["totals"]["returns"] == 1 and report["totals"]["escalated_complaints"] == 1
    assert {row["category"] for row in report["by_category"]} == {"flooding", "power_outage"}
    # Both answers the long case's calls got: "not satisfied" (it reopened), then "satisfied".
    assert report["satisfaction"] == {"satisfied": 1, "not_satisfied": 1}
    assert report["scope"]["incident"] == str(api.day.incident)


async def test_the_press_reads_the_summary_and_its_csv_without_personal_data(api: Harness) -> None:
    await api.submit(flood_report())
    await api.project()
    report = await api.get_json("/api/v1/reports/summary", "press")
    assert report["totals"]["received"] == len(api.day.complaints) + 1
    assert_no_personal_data(report)

    response = await api.get("/api/v1/reports/summary", "press", format="csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "dimension", "key", "metric", "value"]
    assert ["totals", "", "", "received", str(len(api.day.complaints) + 1)] in rows
    assert_no_personal_data(text)


@pytest.mark.parametrize(
    ("role", "params", "status"),
    [(None, {}, 401), ("department:water", {}, 403), ("operator", {}, 403),
     ("command", {"incident": "x"}, 422), ("command", {"start": "2026-07-01T08:00:00"}, 422),
     ("command", {"format": "pdf"}, 422),
     ("command", {"start": "9999-12-31T23:59:59-01:00"}, 422)],  # past what UTC holds: was a 500
)  # fmt: skip
async def test_summary_refusals(api: Harness, role: str | None, params: dict, status: int) -> None:
    assert (await api.get("/api/v1/reports/summary", role, **params)).status == status


async def test_a_time_typed_into_the_url_with_its_plus_unescaped_is_read_as_meant(api: Harness) -> None:
    """`?start=2026-07-01T08:00:00+08:00`, the very form the error message suggested, arrives with a space for
    its "+": it was refused (found by a review of time handling)."""
    headers = await api.headers("command")
    typed = await api.client.get("/api/v1/reports/summary?start=2026-07-01T08:00:00+08:00", headers=headers)
    escaped = await api.client.get("/api/v1/reports/summary?start=2026-07-01T08:00:00%2B08:00", headers=headers)
    assert typed.status == escaped.status == 200, await typed.text()
    scope = (await typed.json())["scope"]
    assert scope == (await escaped.json())["scope"] and scope["start"].startswith("2026-07-01T00:00:00"), scope


async def test_board_has_every_panel_for_command_staff(api: Harness) -> None:
    board = await api.get_json("/api/v1/board", "command")
    assert set(board) >= {
        "counts",
        "departments",
        "incidents",
        "newest_p1",
        "overdue",
        "hotspots",
        "map",
        "position",
        "escalated_to_command",
        "extension_requests",
        "dead_letters",
    }
    assert board["counts"]["open"] == 2  # waiting (dispatched) and handling (accepted)
    assert [p["id"] for p in board["newest_p1"]] == [str(api.day.complaints["handling"])]
    assert board["incidents"][0]["complaints"] == 2
    assert {d["department"] for d in board["departments"]} >= {"drainage", "power"}
    assert len(board["map"]) == 2


async def test_board_goes_gzipped_to_a_client_that_takes_it_and_plain_to_one_that_does_not(
    api: Harness,
) -> None:
    """In a surge the board is about a megabyte (the map's 5,000 points) on every refetch of every page."""
    headers = await api.headers("command")
    async with api.client.get("/api/v1/board", headers={**headers, "Accept-Encoding": "gzip"},
                              auto_decompress=False) as zipped:  # fmt: skip
        assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
        body = json.loads(gzip.decompress(await zipped.read()))
    async with api.client.get("/api/v1/board", headers={**headers, "Accept-Encoding": "identity"}) as plain:
        assert plain.status == 200 and "Content-Encoding" not in plain.headers
        unzipped = await plain.json()
    async with api.client.get("/api/v1/board", headers={**headers, "Accept-Encoding": "gzip;q=0, br"},
                              auto_decompress=False) as refused:  # fmt: skip
        assert refused.status == 200 and "Content-Encoding" not in refused.headers
    # The same board; compared by the parts that do not move with the clock (a slow CI may recompute it).
    stable = ("position", "incidents", "map", "departments", "newest_p1")
    assert {k: unzipped[k] for k in stable} == {k: body[k] for k in stable} and set(unzipped) == set(body)
    assert plain.headers["Vary"] == "Accept-Encoding" and body["position"] > 0


async def test_board_moves_with_the_next_commit(api: Harness) -> None:
    before = await api.get_json("/api/v1/board", "command")
    await api.submit(flood_report())
    await api.project()
    after = await api.get_json("/api/v1/board", "command")
    assert after["position"] > before["position"]
    assert after["counts"]["open"] == before["counts"]["open"] + 1


async def test_pages_refetching_on_the_same_commit_share_one_board(api: Harness) -> None:
    """A command centre's open boards all refetch on each commit: the queries run once for all of them."""
    await api.get_json("/api/v1/board", "command")
    await api.submit(flood_report())
    await api.project()
    computed_before = await boards_computed(api)
    boards = await asyncio.gather(*(api.get_json("/api/v1/board", "command") for _ in range(20)))
    assert {board["position"] for board in boards} == {api.runner.position}
    assert await boards_computed(api) == computed_before + 1


async def boards_computed(api: Harness) -> float:
    text = await (await api.get("/metrics")).text()
    [count] = [
        line.split()[-1] for line in text.splitlines() if line.startswith("levee_board_compute_seconds_count")
    ]
    return float(count)


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("press", 403), ("department:power", 403)])
async def test_board_is_for_command_staff_only(api: Harness, role: str | None, status: int) -> None:
    assert (await api.get("/api/v1/board", role)).status == status


async def test_incidents_list_is_for_staff(api: Harness) -> None:
    items = (await api.get_json("/api/v1/incidents", "press"))["items"]
    assert [i["id"] for i in items] == [str(api.day.incident)]
    assert (await api.get("/api/v1/incidents")).status == 401


async def test_every_read_route_is_in_the_openapi_document(api: Harness) -> None:
    document = await api.get_json("/api/openapi.json")
    for path in ("/api/v1/complaints", "/api/v1/complaints/{id}", "/api/v1/departments/{code}/queue",
                 "/api/v1/board", "/api/v1/board/events", "/api/v1/status/{tracking_code}", "/api/v1/notices",
                 "/api/v1/staff/notices", "/api/v1/reports/summary", "/open311/v2/requests/{service_request_id}.json",
                 "/board", "/department", "/press", "/reports", "/status"):  # fmt: skip
        assert "get" in document["paths"][path], path
    assert "post" in document["paths"]["/open311/v2/requests.json"]
    assert "get" in document["paths"]["/open311/v2/requests.json"]


async def test_a_read_postgresql_does_not_answer_is_a_503_within_the_reads_bound(
    api: Harness, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review following the runbook: with PostgreSQL hung, a board waited 90 s (a statement timeout per
    read, then the connection's reset), past the 60 s a proxy in front waits. A request's reads together get
    keys.READ_SECONDS (25 s; 2 s here), and the pool still serves once PostgreSQL answers again."""
    monkeypatch.setattr(keys, "READ_SECONDS", 2.0)
    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE levee_read.complaints IN ACCESS EXCLUSIVE MODE")
            async with asyncio.timeout(keys.READ_STATEMENT_SECONDS / 2):  # far below the statement timeout
                board = await api.get("/api/v1/board", "command")
                queue = await api.get("/api/v1/departments/power/queue", "command")
            for answer in (board, queue):
                assert answer.status == 503, await answer.text()
                assert answer.headers["Retry-After"].isdigit()
                problem = await answer.json()
                assert problem["dependency"] == "PostgreSQL"
                assert "did not answer within 2 s" in problem["detail"]
    finally:
        await holder.close()
    assert (await api.get("/api/v1/board", "command")).status == 200
    assert (await api.get("/api/v1/departments/power/queue", "command")).status == 200
