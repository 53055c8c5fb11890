"""What the board, queues, reports and public reads list, and in which order: each test failed on a mutation a
fourth audit made of services/api/read_models, read_queries and operator_queries (rows written straight into
the read models, as the projector leaves them)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from services.api.operator_queries import caller_history
from services.api.read_models import public, queries
from services.api.read_queries import open311_rows

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
S = "levee_read"


async def add(pg: asyncpg.Connection, **cols) -> uuid.UUID:
    row = {
        "id": uuid.uuid4(),
        "tracking_code": "LV-" + uuid.uuid4().hex[:6].upper(),
        "status": "dispatched",
        "channel": "hotline",
        "received_at": NOW - timedelta(hours=1),
        "version": 1,
        "updated_at": NOW,
        **cols,
    }
    names = ", ".join(row)
    marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await pg.execute(f"INSERT INTO {S}.complaints ({names}) VALUES ({marks})", *row.values())
    return row["id"]


async def timeline(
    pg: asyncpg.Connection,
    c: uuid.UUID,
    version: int,
    kind: str,
    detail: dict,
    *,
    at: datetime = NOW,
    public: bool = False,
) -> None:
    """One row of a complaint's timeline, as the projector writes it."""
    await pg.execute(
        f"INSERT INTO {S}.complaint_timeline (complaint_id, version, at, kind, public, detail) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        c, version, at, kind, public, json.dumps(detail),
    )  # fmt: skip


async def test_queue_gives_the_latest_reopen_reason(pg: asyncpg.Connection) -> None:
    c = await add(pg, department="drainage", status="reopened", reopen_count=2)
    for version, reason in ((5, "still flooded"), (9, "water back again tonight")):
        await timeline(pg, c, version, "ComplaintReopened", {"reason": reason})
    [item], _ = await queries.department_queue(pg, "drainage", now=NOW)
    assert item["reopen_reason"] == "water back again tonight"


async def test_department_open_counts_only_open_cases(pg: asyncpg.Connection) -> None:
    await add(pg, department="power", status="dispatched")
    await add(pg, department="power", status="closed")
    await add(pg, department="power", status="resolved")
    power = next(d for d in await queries.department_stats(pg, now=NOW) if d["department"] == "power")
    assert power["open"] == 1


async def test_overdue_list_longest_overdue_first(pg: asyncpg.Connection) -> None:
    a = await add(pg, accept_by=NOW - timedelta(minutes=10))
    b = await add(pg, accept_by=NOW - timedelta(hours=5))
    assert [r["id"] for r in await queries.overdue_list(pg, now=NOW)] == [b, a]


async def test_overdue_list_takes_the_longest_overdue_of_either_deadline_within_its_limit(
    pg: asyncpg.Connection,
) -> None:
    """The list is read off each deadline's own index (the first `limit` past each): a case late on both
    counts by its older miss, and a limit smaller than the overdue cases keeps the longest of either kind."""
    hours = timedelta(hours=1)
    both = await add(pg, accept_by=NOW - hours / 2, resolve_by=NOW - 5 * hours)
    resolve_4 = await add(pg, status="accepted", resolve_by=NOW - 4 * hours)
    accept_3 = await add(pg, accept_by=NOW - 3 * hours)
    for late in (2 * hours, 1.5 * hours, hours * 3 / 4):
        await add(pg, status="accepted", resolve_by=NOW - late)
    await add(pg, accept_by=NOW - hours)
    await add(pg, accept_by=NOW - hours / 4)
    await add(pg, accept_by=NOW + hours, resolve_by=NOW + 2 * hours)  # not overdue
    rows = await queries.overdue_list(pg, limit=3, now=NOW)
    assert [r["id"] for r in rows] == [both, resolve_4, accept_3]
    assert [r["seconds_overdue"] for r in rows] == [5 * 3600, 4 * 3600, 3 * 3600]
    assert len(await queries.overdue_list(pg, now=NOW)) == 8


async def test_extension_requests_longest_waiting_first(pg: asyncpg.Connection) -> None:
    ids = []
    for minutes in (5, 90):
        c = await add(pg, department="roads", status="accepted", extension_pending=True)
        await timeline(
            pg,
            c,
            3,
            "ExtensionRequested",
            {"minutes": 60, "reason": "crane"},
            at=NOW - timedelta(minutes=minutes),
        )
        ids.append(c)
    assert [r["id"] for r in await queries.pending_extensions(pg)] == [ids[1], ids[0]]


async def test_cases_to_decide_overdue_first(pg: asyncpg.Connection) -> None:
    late = await add(
        pg, escalation_level=2, received_at=NOW - timedelta(hours=3), accept_by=NOW - timedelta(hours=1)
    )
    await add(
        pg, escalation_level=2, received_at=NOW - timedelta(minutes=5), accept_by=NOW + timedelta(hours=1)
    )
    rows = await queries.escalated_individual(pg, now=NOW)
    assert rows[0]["id"] == late


async def test_a_merged_incident_is_not_unassigned(pg: asyncpg.Connection) -> None:
    into, merged = uuid.uuid4(), uuid.uuid4()
    for i, m, who in ((into, None, "Chen"), (merged, into, None)):
        await pg.execute(
            f"INSERT INTO {S}.incidents (id, title, kind, status, declared_by, declared_at, updated_at, "
            "merged_into, responsible) VALUES ($1, 't', 'flooding', 'identified', 'triage', $2, $2, $3, $4)",
            i,
            NOW,
            m,
            who,
        )
    assert (await queries.unassigned_counts(pg))["unassigned_incidents"] == 0


async def test_closed_p1s_do_not_rank_an_incident_first(pg: asyncpg.Connection) -> None:
    old, busy = uuid.uuid4(), uuid.uuid4()
    for i in (old, busy):
        await pg.execute(
            f"INSERT INTO {S}.incidents (id, title, kind, status, declared_by, declared_at, updated_at) "
            "VALUES ($1, 't', 'flooding', 'identified', 'triage', $2, $2)",
            i,
            NOW,
        )
    await add(pg, incident_id=old, level="P1", status="closed")
    await add(pg, incident_id=busy, level="P2", status="dispatched")
    [first, *_] = await queries.incidents_with_counts(pg, now=NOW, by_urgency=True)
    assert (first["id"], first["open_p1"]) == (busy, 0)


async def test_map_district_counts_cases_without_coordinates(pg: asyncpg.Connection) -> None:
    await add(pg, district="riverside", lat=22.7, lon=113.9)
    await add(pg, district="riverside")  # by district alone
    counts = await queries.board_counts(pg, now=NOW)
    [riverside] = [d for d in counts["map_districts"] if d["district"] == "riverside"]
    assert (riverside["open"], riverside["located"]) == (2, 1)


async def test_no_next_cursor_when_the_page_holds_the_last_one(pg: asyncpg.Connection) -> None:
    for n in range(2):
        await add(pg, received_at=NOW - timedelta(minutes=n))
    assert (await queries.list_complaints(pg, limit=2, now=NOW))["next_cursor"] is None


async def test_paging_with_equal_received_at_visits_each_once(pg: asyncpg.Connection) -> None:
    same = NOW - timedelta(minutes=1)
    made = {await add(pg, received_at=same) for _ in range(5)}
    seen, cursor = [], None
    for _ in range(10):
        page = await queries.list_complaints(pg, limit=2, cursor=cursor, now=NOW)
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)


async def test_reopen_rate_is_per_resolution_not_per_answer(pg: asyncpg.Connection) -> None:
    await add(pg, status="closed", resolved_by="roads", reopen_count=1, answered_satisfied=1)
    await add(pg, status="resolved", resolved_by="roads")  # not called back yet
    [roads] = await queries.department_rates(pg)
    assert roads["reopen_rate"] == 0.5


async def note(pg: asyncpg.Connection, c: uuid.UUID, version: int, text: str) -> None:
    await timeline(pg, c, version, "PublicNote", {"text": text}, public=True)


async def notice(pg: asyncpg.Connection, state: str) -> uuid.UUID:
    n = uuid.uuid4()
    await pg.execute(
        f"INSERT INTO {S}.notices (id, state, status, title_en, title_zh, body_en, body_zh, author, published_version, "
        "public_title_en, public_title_zh, public_body_en, public_body_zh, public_status, published_at, drafted_at, "
        "updated_at, cancelled_at) VALUES ($1, $2, 'actual', 't', 't', 'b', 'b', 'press', 1, 't', 't', 'b', 'b', "
        "'actual', $3, $3, $3, $4)",
        n,
        state,
        NOW,
        NOW if state == "cancelled" else None,
    )
    return n


async def test_public_progress_oldest_first(pg: asyncpg.Connection) -> None:
    c = await add(pg)
    code = await pg.fetchval(f"SELECT tracking_code FROM {S}.complaints WHERE id = $1", c)
    await note(pg, c, 3, "crew on the way")
    await note(pg, c, 6, "pump running")
    status = await public.public_status(pg, code)
    assert status is not None
    assert [p["text"] for p in status["progress"]] == ["crew on the way", "pump running"]


async def test_a_withdrawn_notice_is_not_public(pg: asyncpg.Connection) -> None:
    live = await notice(pg, "published")
    await notice(pg, "cancelled")
    assert [n["id"] for n in await public.published_notices(pg)] == [live]


async def test_open311_status_notes_is_the_latest_public_note(pg: asyncpg.Connection) -> None:
    c = await add(pg)
    await note(pg, c, 3, "crew on the way")
    await note(pg, c, 6, "pump running")
    [row] = await open311_rows(pg, ids=[c])
    assert row["note"] == "pump running"


async def test_caller_history_newest_first(pg: asyncpg.Connection) -> None:
    old = await add(pg, caller_key="k1", received_at=NOW - timedelta(days=3))
    new = await add(pg, caller_key="k1", received_at=NOW - timedelta(hours=1))
    rows = await caller_history(pg, ["k1"], NOW - timedelta(days=30))
    assert [r["id"] for r in rows] == [new, old]
