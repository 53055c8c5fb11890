"""What the API and pages read: staff lists, the department queue, the live board. Reads only.

Every function takes a connection or a pool and returns plain dicts (JSON-ready apart from datetimes and
UUIDs). Table names are qualified with the live schema, so callers need no search_path; a rebuild swaps
the schema under them atomically. `now` is a parameter so drills and tests can ask "as of" a time.
Public reads (no personal data) are in `services.api.read_models.public`, the summary report in `services.api.read_models.report`.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from events.reference import COMMAND_QUEUE, load_reference
from services.api.read_models.suggestions import RULES, Centroid, SuggestionRules, suggest

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
S = "levee_read"  # the live schema (projections.migrate.LIVE_SCHEMA)

OPEN = ("received", "validated", "prioritised", "dispatched", "accepted", "returned", "reopened")
_OPEN_SQL = "(" + ", ".join(f"'{s}'" for s in OPEN) + ")"
# The command queue's code is written into the SQL, not passed: the indexes of what is command's (migration
# 021) are partial on it, and a plan made for any value of a parameter could not use them.
assert COMMAND_QUEUE.isidentifier()
_COMMAND = f"'{COMMAND_QUEUE}'"

COMPLAINT_COLUMNS = (
    "id, tracking_code, status, level, score, factors, category, district, lat, lon, department, incident_id, "
    "channel, received_at, dispatched_at, accepted_at, resolved_at, closed_at, accept_by, resolve_by, "
    "agreed_resolution_at, escalation_level, return_count, reopen_count, dispatch_count, repeat_calls, "
    "extension_pending, satisfaction, media_exposure, people_affected, vulnerable, description, redacted, "
    "first_contact, updated_at, responsible, responsible_since, rejection_reason"
)


def overdue_sql(now: str, alias: str = "") -> str:
    """True for a complaint past a deadline still open. accept_by / resolve_by are the deadlines open now, as
    the deadline watcher folds them (NULL when none is, e.g. once resolved): overdue is what it escalates."""
    a = f"{alias}." if alias else ""
    return f"COALESCE({a}accept_by < {now} OR {a}resolve_by < {now}, false)"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return dict(record)


def _complaint(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("factors"), str):
        row["factors"] = json.loads(row["factors"])
    return row


# ---- staff -------------------------------------------------------------------------------------------


def encode_cursor(received_at: datetime, complaint_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{received_at.isoformat()}|{complaint_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises ValueError (or OverflowError, past what UTC holds) for anything encode_cursor did not make."""
    stamp, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    received_at = datetime.fromisoformat(stamp)
    if received_at.tzinfo is None:
        raise ValueError("a cursor's time has its offset")
    return received_at.astimezone(UTC), UUID(ident)


async def list_complaints(
    conn: Conn,
    *,
    status: str | list[str] | None = None,
    level: str | list[str] | None = None,
    department: str | None = None,
    district: str | None = None,
    incident: UUID | None = None,
    overdue: bool | None = None,
    escalation: str | None = None,
    extension_pending: bool | None = None,
    open_only: bool = False,
    tracking_code: str | None = None,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Newest first. Page with `cursor` (the previous page's `next_cursor`) or `offset`. `escalation` is a
    level ("0", "1", "2") or "escalated" (level 1 and up).

    Returns {"items": [complaint rows + "overdue"], "next_cursor": str | None}.
    """
    args: list[Any] = [_now(now)]
    where: list[str] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    for column, value in (("status", status), ("level", level)):
        if value is not None:
            where.append(
                f"{column} = ANY({param([value] if isinstance(value, str) else list(value))}::text[])"
            )
    for column, equal_to in (("department", department), ("district", district),
                             ("tracking_code", tracking_code), ("extension_pending", extension_pending)):  # fmt: skip
        if equal_to is not None:
            where.append(f"{column} = {param(equal_to)}")
    if incident is not None:  # with those of incidents merged into it, as its counts on the board
        where.append(f"incident_id IN ({merged_into_sql(param(incident) + '::uuid')})")
    if escalation == "escalated":
        where.append("escalation_level >= 1")
    elif escalation is not None:
        where.append(f"escalation_level = {param(int(escalation))}")
    if open_only:
        where.append(f"status IN {_OPEN_SQL}")
    if overdue is not None:
        where.append(overdue_sql("$1") if overdue else f"NOT {overdue_sql('$1')}")
    if cursor:
        stamp, ident = decode_cursor(cursor)
        where.append(f"(received_at, id) < ({param(stamp)}, {param(ident)})")
    sql = (
        f"SELECT {COMPLAINT_COLUMNS}, {overdue_sql('$1')} AS overdue FROM {S}.complaints "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY received_at DESC, id DESC LIMIT {param(limit + 1)} OFFSET {param(offset)}"
    )
    rows = [_complaint(r) for r in await conn.fetch(sql, *args)]
    more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]["received_at"], items[-1]["id"]) if more and items else None
    return {"items": items, "next_cursor": next_cursor}


async def complaint_detail(
    conn: Conn, complaint_id: UUID, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """One complaint with its timeline (oldest first), or None."""
    record = await conn.fetchrow(
        f"SELECT {COMPLAINT_COLUMNS}, {overdue_sql('$2')} AS overdue FROM {S}.complaints WHERE id = $1",
        complaint_id, _now(now),
    )  # fmt: skip
    if record is None:
        return None
    detail = _complaint(record)
    timeline = await conn.fetch(
        f"SELECT version, at, kind, department, public, detail FROM {S}.complaint_timeline "
        "WHERE complaint_id = $1 ORDER BY version",
        complaint_id,
    )
    detail["timeline"] = [{**dict(r), "detail": json.loads(r["detail"])} for r in timeline]
    return detail


async def department_queue(
    conn: Conn, department: str, *, limit: int = 200, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The department's cases, most urgent first, at most `limit` of them, and how many there are: waiting to
    be accepted (`seconds_to_accept`) or being handled (`seconds_to_resolve`); negative seconds are overdue.
    A case reopened carries why, the latest time (`reopen_reason`): what the caller still lacks."""
    # The queue's order and count come off complaints_department_status alone (it carries the deadlines and
    # the arrival: migration 020); only the `limit` cases shown are read whole. In a long surge one department
    # held 27,000 open cases of 90,000, and every clerk's page read all 90,000 rows every few seconds.
    rows = await conn.fetch(
        "WITH q AS (SELECT id, LEAST(accept_by, resolve_by) AS due, received_at, count(*) OVER () AS total "
        f"FROM {S}.complaints WHERE department = $1 AND status IN ('dispatched', 'accepted', 'reopened') "
        "ORDER BY due ASC NULLS LAST, received_at, id LIMIT $3) "
        f"SELECT c.id, tracking_code, status, level, score, category, district, c.received_at, dispatched_at, "
        f"accepted_at, accept_by, resolve_by, agreed_resolution_at, escalation_level, extension_pending, "
        f"return_count, reopen_count, "
        "EXTRACT(EPOCH FROM accept_by - $2)::bigint AS seconds_to_accept, "
        f"EXTRACT(EPOCH FROM resolve_by - $2)::bigint AS seconds_to_resolve, {overdue_sql('$2')} AS overdue, "
        # Looked up only for a case reopened (few), and never once its personal data is erased: the reason may be
        # the caller's words.
        f"CASE WHEN reopen_count > 0 AND NOT redacted THEN (SELECT t.detail ->> 'reason' FROM {S}.complaint_timeline t "
        "WHERE t.complaint_id = c.id AND t.kind = 'ComplaintReopened' ORDER BY t.version DESC LIMIT 1) "
        "END AS reopen_reason, "
        # The answer to the department's latest extension request since the case came to it (a review found a
        # denial, and command's reason, never reached the page): one short backward scan of the case's timeline.
        f"(SELECT jsonb_build_object('kind', t.kind, 'at', t.at, 'minutes', t.detail -> 'minutes', "
        f"'reason', t.detail ->> 'reason') FROM {S}.complaint_timeline t WHERE t.complaint_id = c.id AND t.kind IN "
        "('ComplaintDispatched', 'ExtensionRequested', 'ExtensionGranted', 'ExtensionDenied') "
        "ORDER BY t.version DESC LIMIT 1) AS extension_answer, "
        "q.total "
        f"FROM q JOIN {S}.complaints c ON c.id = q.id ORDER BY q.due ASC NULLS LAST, q.received_at, q.id",
        department, _now(now), limit,
    )  # fmt: skip
    total = int(rows[0]["total"]) if rows else 0
    items = []
    for r in rows:
        item = {k: v for k, v in _row(r).items() if k not in ("total", "extension_answer")}
        item["extension_decision"] = _extension_decision(r["extension_answer"])
        items.append(item)
    return items, total


_DECISIONS = {"ExtensionGranted": "granted", "ExtensionDenied": "denied"}


def _extension_decision(answer: str | None) -> dict[str, Any] | None:
    """{decision: granted|denied, minutes, reason, at} when command answered the latest request; else None."""
    found = json.loads(answer) if answer else None
    if found is None or found["kind"] not in _DECISIONS:
        return None
    return {"decision": _DECISIONS[found["kind"]], "minutes": found["minutes"], "reason": found["reason"],
            "at": datetime.fromisoformat(found["at"])}  # fmt: skip


# ---- the board -----------------------------------------------------------------------------------------


async def board_counts(conn: Conn, *, now: datetime | None = None) -> dict[str, Any]:
    """The board's counts, in one pass over the complaints (in a surge the table has 100,000s of rows; four
    passes took 150 ms of the board at 150,000): {"by_status": {status: n}, "by_level": {level: open n},
    "open": n, "overdue": n}, and what waits on command: `escalated_to_command` (open cases escalated to level
    2 or in the command queue), `escalated_individual` (those of them in no incident, and every one in the
    command queue), `extension_pending` (open, unanswered), `dead_letters` (neither re-driven
    successfully nor followed by the newer dead letter of a failed retry); and `map_districts`, the open cases
    per district, all of them (`open`) and those with a point on the map (`located`): a case reported by
    district alone has no coordinates, and counted from the map's points a district with open cases said 0."""
    rows = await conn.fetch(
        f"SELECT status, COALESCE(level, 'unassessed') AS level, district, count(*) AS n, "
        "count(*) FILTER (WHERE lat IS NOT NULL AND lon IS NOT NULL) AS located, "
        f"count(*) FILTER (WHERE {overdue_sql('$1')}) AS overdue, "
        f"count(*) FILTER (WHERE escalation_level >= 2 OR department = {_COMMAND}) AS escalated_to_command, "
        f"count(*) FILTER (WHERE (escalation_level >= 2 AND incident_id IS NULL) OR department = {_COMMAND}) "
        "AS escalated_individual, "
        "count(*) FILTER (WHERE extension_pending) AS extension_pending "
        f"FROM {S}.complaints GROUP BY 1, 2, 3",
        _now(now),
    )  # fmt: skip
    dead = await conn.fetchval(
        f"SELECT count(*) FROM {S}.dead_letters WHERE retry_state IS NULL OR retry_state NOT IN ('succeeded', 'failed')"
    )
    by_status: dict[str, int] = {}
    by_level: dict[str, int] = {}
    waiting = {"escalated_to_command": 0, "escalated_individual": 0, "extension_pending": 0}
    overdue = 0
    districts: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        overdue += row["overdue"]
        if row["status"] in OPEN:
            by_level[row["level"]] = by_level.get(row["level"], 0) + row["n"]
            for key in waiting:
                waiting[key] += row[key]
            place = districts.setdefault(
                row["district"], {"district": row["district"], "open": 0, "located": 0}
            )
            place["open"] += row["n"]
            place["located"] += row["located"]
    return {
        "by_status": by_status,
        "by_level": by_level,
        "open": sum(n for status, n in by_status.items() if status in OPEN),
        "overdue": overdue,
        **waiting,
        "dead_letters": int(dead),
        "map_districts": sorted(
            districts.values(), key=lambda d: (d["district"] is None, d["district"] or "")
        ),
    }


async def department_stats(conn: Conn, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per department (every one in the reference data): open, overdue, median minutes to accept (from
    dispatch) and to resolve (from intake), and the follow-up rates of what it resolved (`department_rates`)."""
    rows = await conn.fetch(
        f"SELECT department, count(*) FILTER (WHERE status IN {_OPEN_SQL}) AS open, "
        f"count(*) FILTER (WHERE {overdue_sql('$1')}) AS overdue, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM accepted_at - dispatched_at) / 60) "
        "FILTER (WHERE accepted_at >= dispatched_at) AS median_minutes_to_accept, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - received_at) / 60) "
        "FILTER (WHERE resolved_at IS NOT NULL) AS median_minutes_to_resolve "
        f"FROM {S}.complaints WHERE department IS NOT NULL GROUP BY department",
        _now(now),
    )
    found = {r["department"]: _row(r) for r in rows}
    for rates in await department_rates(conn):
        found.setdefault(rates["department"], {"department": rates["department"]}).update(
            satisfaction_rate=rates["satisfaction_rate"], reopen_rate=rates["reopen_rate"]
        )
    empty = {
        "open": 0, "overdue": 0, "median_minutes_to_accept": None, "median_minutes_to_resolve": None,
        "satisfaction_rate": None, "reopen_rate": None,
    }  # fmt: skip
    out = []
    for dept in load_reference().departments:
        out.append({**empty, **found.pop(dept.code, {}), "department": dept.code, "name_en": dept.name_en,
                    "name_zh": dept.name_zh})  # fmt: skip
    names = {COMMAND_QUEUE: ("指挥部队列", "Command queue")}  # the one queue that is not a city department
    for row in found.values():
        zh, en = names.get(row["department"], (row["department"], row["department"]))
        out.append({**empty, **row, "name_en": en, "name_zh": zh})
    return out


async def department_rates(conn: Conn, where: str = "TRUE", *args: Any) -> list[dict[str, Any]]:
    """Per department that resolved complaints: resolved, follow-up answers (`followed_up`: every answer a
    call got, a case reopened and resolved again answering twice), of them satisfied, partly and not satisfied,
    reopened, and the rates (satisfied / answers, reopened / resolved). A reopening goes back to the resolver,
    so the resolver answers for it and for what its callers said; `where` narrows the complaints ($1.. are
    `args`)."""
    rows = await conn.fetch(
        "SELECT resolved_by AS department, count(*) AS resolved, "
        "sum(answered_satisfied + answered_partly + answered_not_satisfied)::int AS followed_up, "
        "sum(answered_satisfied)::int AS satisfied, sum(answered_partly)::int AS partly_satisfied, "
        "sum(answered_not_satisfied)::int AS not_satisfied, "
        "count(*) FILTER (WHERE reopen_count > 0) AS reopened "
        f"FROM {S}.complaints WHERE resolved_by IS NOT NULL AND {where} GROUP BY 1 ORDER BY 1",
        *args,
    )
    return [_rates(_row(r)) for r in rows]


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    row["satisfaction_rate"] = round(row["satisfied"] / row["followed_up"], 3) if row["followed_up"] else None
    row["reopen_rate"] = round(row["reopened"] / row["resolved"], 3) if row["resolved"] else None
    return row


# What needs command most first: open P1s, then overdue, then open complaints, then the newest incident.
_INCIDENT_URGENCY = "open_p1 DESC, overdue DESC, open DESC, i.declared_at DESC, i.id"


def merged_into_sql(incident: str) -> str:
    """SQL for the ids of `incident` and of every incident merged into it, directly or through another."""
    return (
        f"WITH RECURSIVE m(id) AS (SELECT {incident} UNION "
        f"SELECT i.id FROM {S}.incidents i JOIN m ON i.merged_into = m.id) SELECT id FROM m"
    )


# Each incident and the live incident it ended in (itself when not merged), through chains of merges.
_INCIDENT_ROOTS = (  # an incident merged into one the read model lacks is its own root: never dropped
    f"roots(id, root) AS (SELECT i.id, i.id FROM {S}.incidents i WHERE i.merged_into IS NULL "
    f"OR NOT EXISTS (SELECT 1 FROM {S}.incidents m WHERE m.id = i.merged_into) "
    f"UNION ALL SELECT i.id, r.root FROM {S}.incidents i JOIN roots r ON i.merged_into = r.id)"
)


async def incidents_with_counts(
    conn: Conn,
    *,
    now: datetime | None = None,
    by_urgency: bool = False,
    limit: int | None = None,
    include_merged: bool = False,
) -> list[dict[str, Any]]:
    """Incidents with live counts of their complaints (total, open, open P1, overdue): newest first, or with
    `by_urgency` what needs command most first (open P1, overdue, open, then newest). One pass over the
    linked complaints (GROUP BY incident_id), joined to the incidents; `limit` None is all of them. An incident
    merged into another (`merged_into`, its title as `merged_into_title`) only with `include_merged`; its
    complaints count under the incident it ended in (a merge moves only the open ones)."""
    rows = await conn.fetch(
        f"WITH RECURSIVE {_INCIDENT_ROOTS}, "
        "c AS (SELECT r.root AS incident_id, count(*) AS complaints, "
        f"count(*) FILTER (WHERE status IN {_OPEN_SQL}) AS open, "
        f"count(*) FILTER (WHERE status IN {_OPEN_SQL} AND level = 'P1') AS open_p1, "
        f"count(*) FILTER (WHERE {overdue_sql('$1')}) AS overdue "
        f"FROM {S}.complaints JOIN roots r ON r.id = incident_id GROUP BY r.root) "
        "SELECT i.id, i.title, i.kind, i.districts, i.status, i.declared_at, i.updated_at, i.linked_complaints, "
        "i.responsible, i.responsible_since, "
        "COALESCE(c.complaints, 0) AS complaints, COALESCE(c.open, 0) AS open, "
        "COALESCE(c.open_p1, 0) AS open_p1, COALESCE(c.overdue, 0) AS overdue, "
        "i.merged_into, m.title AS merged_into_title "
        f"FROM {S}.incidents i LEFT JOIN c ON c.incident_id = i.id LEFT JOIN {S}.incidents m ON m.id = i.merged_into "
        "WHERE $3 OR i.merged_into IS NULL OR m.id IS NULL "
        f"ORDER BY {_INCIDENT_URGENCY if by_urgency else 'i.declared_at DESC, i.id'} LIMIT $2",
        _now(now), limit, include_merged,
    )  # fmt: skip
    return [_row(r) for r in rows]


async def merge_suggestions(conn: Conn, *, rules: SuggestionRules = RULES) -> list[dict[str, Any]]:
    """可能是同一事件 Possibly one event: groups of active incidents (neither merged nor resolved) whose open
    complaints centre near each other and that were declared close in time (`suggestions.SuggestionRules`), for
    command to merge. One GROUP BY for the centroids (mean lat/lon of each incident's located open complaints);
    the pairs and chains are made in Python (`suggestions.suggest`)."""
    rows = await conn.fetch(
        "WITH c AS (SELECT incident_id, count(*) AS open, "
        "avg(lat) FILTER (WHERE lon IS NOT NULL) AS lat, avg(lon) FILTER (WHERE lat IS NOT NULL) AS lon "
        f"FROM {S}.complaints WHERE incident_id IS NOT NULL AND status IN {_OPEN_SQL} GROUP BY incident_id) "
        "SELECT i.id, i.title, i.kind, i.declared_at, c.open, c.lat, c.lon "
        f"FROM c JOIN {S}.incidents i ON i.id = c.incident_id "
        "WHERE i.merged_into IS NULL AND i.status <> 'resolved' AND c.lat IS NOT NULL"
    )
    return suggest([Centroid(**dict(r)) for r in rows], rules)


async def newest_p1(conn: Conn, *, limit: int = 20, now: datetime | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, tracking_code, status, score, category, district, department, received_at, accept_by, "
        f"resolve_by, {overdue_sql('$2')} AS overdue FROM {S}.complaints "
        f"WHERE level = 'P1' AND status IN {_OPEN_SQL} ORDER BY received_at DESC LIMIT $1",
        limit, _now(now),
    )  # fmt: skip
    return [_row(r) for r in rows]


async def overdue_list(conn: Conn, *, limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
    """Overdue open complaints, the longest overdue first (`seconds_overdue`)."""
    # The longest overdue are among the earliest past deadlines of either kind: the first `limit` of each, off
    # its own index (migration 019), not a sort of every overdue case (in a long surge, tens of thousands).
    rows = await conn.fetch(
        f"SELECT c.id, c.tracking_code, c.status, c.level, c.category, c.district, c.department, c.accept_by, "
        "c.resolve_by, EXTRACT(EPOCH FROM $2 - LEAST(c.accept_by, c.resolve_by))::bigint AS seconds_overdue "
        f"FROM ((SELECT id FROM {S}.complaints WHERE accept_by < $2 ORDER BY accept_by LIMIT $1) "
        f"UNION (SELECT id FROM {S}.complaints WHERE resolve_by < $2 ORDER BY resolve_by LIMIT $1)) AS first "
        f"JOIN {S}.complaints c ON c.id = first.id ORDER BY seconds_overdue DESC, c.id LIMIT $1",
        limit, _now(now),
    )  # fmt: skip
    return [_row(r) for r in rows]


REJECTED_EXCERPT = 280  # characters of the (masked) description the board shows of a rejected complaint
REJECTED_WINDOW = timedelta(hours=24)


async def rejected_recently(
    conn: Conn, *, limit: int = 20, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The latest rejections (无效), newest first, for command to review (and reinstate a wrong one), with how many
    there were in the last REJECTED_WINDOW. The description is the public one (phones and names masked): the
    board may be on a wall."""
    rows = await conn.fetch(
        f"SELECT id, tracking_code, received_at, closed_at AS rejected_at, rejection_reason AS reason, category, "
        f"district, channel, left(public_description, {REJECTED_EXCERPT}) AS description FROM {S}.complaints "
        "WHERE status = 'rejected' ORDER BY closed_at DESC, id DESC LIMIT $1",
        limit,
    )  # fmt: skip
    count = await conn.fetchval(
        f"SELECT count(*) FROM {S}.complaints WHERE status = 'rejected' AND closed_at > $1",
        _now(now) - REJECTED_WINDOW,
    )
    return [_row(r) for r in rows], int(count)


async def hotspots(
    conn: Conn, *, now: datetime | None = None, window: timedelta = timedelta(hours=1), limit: int = 20
) -> list[dict[str, Any]]:
    """District x category: complaints received in the last `window` against the window before, biggest rise first."""
    at = _now(now)
    rows = await conn.fetch(
        "WITH w AS (SELECT $1::timestamptz AS now, $2::interval AS span) "
        "SELECT COALESCE(district, 'unknown') AS district, COALESCE(category, 'unknown') AS category, "
        "count(*) FILTER (WHERE received_at > w.now - w.span) AS last, "
        "count(*) FILTER (WHERE received_at <= w.now - w.span) AS before "
        f"FROM {S}.complaints, w WHERE received_at > w.now - 2 * w.span AND received_at <= w.now "
        "GROUP BY 1, 2 ORDER BY count(*) FILTER (WHERE received_at > w.now - w.span) "
        "- count(*) FILTER (WHERE received_at <= w.now - w.span) DESC, 3 DESC, 1, 2 LIMIT $3",
        at, window, limit,
    )  # fmt: skip
    return [{**_row(r), "change": r["last"] - r["before"]} for r in rows]


async def map_points(conn: Conn, *, limit: int = 5000) -> list[dict[str, Any]]:
    """Open complaints with a location, for the staff map (exact coordinates: staff only)."""
    rows = await conn.fetch(
        f"SELECT id, tracking_code, status, level, category, lat, lon FROM {S}.complaints "
        f"WHERE status IN {_OPEN_SQL} AND lat IS NOT NULL ORDER BY received_at DESC LIMIT $1",
        limit,
    )
    return [_row(r) for r in rows]


# Since when a case is with command, and why: the later (by version) of its latest escalation to level 2 or
# above and its latest dispatch to the command queue, of those that still hold (projections/complaints.py
# keeps both on the row; migration 013). `c` is the complaint.
_ESCALATED_NOW = "c.escalation_level >= 2"
_QUEUED_NOW = f"COALESCE(c.department = {_COMMAND}, false)"
_BY_QUEUE = (
    f"({_QUEUED_NOW} AND c.queued_version IS NOT NULL AND (NOT {_ESCALATED_NOW} OR c.escalated_version IS NULL "
    "OR c.queued_version > c.escalated_version))"
)
_SINCE = f"CASE WHEN {_BY_QUEUE} THEN c.queued_at WHEN {_ESCALATED_NOW} THEN c.escalated_at END"
_WHY = f"CASE WHEN {_BY_QUEUE} THEN c.queued_why WHEN {_ESCALATED_NOW} THEN c.escalated_why END"


# What is command's: open, and escalated to level 2 or in the command queue. `c` is the complaint. In this
# order by since when (newest first), and one by one (`_ALONE`), off their own indexes (migration 021).
_WITH_COMMAND = f"c.status IN {_OPEN_SQL} AND (c.escalation_level >= 2 OR c.department = {_COMMAND})"
_ALONE = f"(c.incident_id IS NULL OR c.department = {_COMMAND})"
_NEWEST_AT_COMMAND = f"COALESCE({_SINCE}, c.received_at) DESC, c.id DESC"
_ESCALATED_COLUMNS = (
    "c.id, c.tracking_code, c.status, c.level, c.escalation_level, c.category, c.district, c.department, "
    f"c.incident_id, c.received_at, {_QUEUED_NOW} AS in_command_queue, "
    f"{_SINCE} AS since, {_WHY} AS why, c.responsible, c.responsible_since, io.responsible AS incident_responsible"
)
# The person responsible for the case's incident, if in one (`io`): who owns it when the case names nobody.
_INCIDENT_OWNER = f"LEFT JOIN {S}.incidents io ON io.id = c.incident_id"


async def escalated_to_command(
    conn: Conn, *, limit: int = 50, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Open complaints that are command's: escalated to level 2, or in the command queue (dispatch sends there
    what no department can take). Newest arrival at command first; `why` is the escalation or dispatch reason."""
    rows = await conn.fetch(
        f"SELECT {_ESCALATED_COLUMNS}, {overdue_sql('$2', 'c')} AS overdue "
        f"FROM {S}.complaints c {_INCIDENT_OWNER} WHERE {_WITH_COMMAND} ORDER BY {_NEWEST_AT_COMMAND} LIMIT $1",
        limit, _now(now),
    )  # fmt: skip
    return [_row(r) for r in rows]


async def escalated_individual(
    conn: Conn, *, limit: int = 50, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The cases with command that need a decision one by one: those in no incident (an incident's escalations
    are handled as the incident, `escalated_by_incident`), and every case in the command queue, incident or
    not, since no department has it. Overdue first, then the newest arrival at command."""
    # The first `limit` overdue and the first `limit` not, each off the index in its order (migration 021):
    # not a sort of every case command decides alone.
    overdue = overdue_sql("$2", "c")

    def first(which: str) -> str:
        return (
            f"(SELECT c.id FROM {S}.complaints c WHERE {_WITH_COMMAND} AND {_ALONE} AND {which} "
            f"ORDER BY {_NEWEST_AT_COMMAND} LIMIT $1)"
        )

    rows = await conn.fetch(
        f"SELECT {_ESCALATED_COLUMNS}, {overdue} AS overdue "
        f"FROM ({first(overdue)} UNION ALL {first(f'NOT {overdue}')}) AS first "
        f"JOIN {S}.complaints c ON c.id = first.id {_INCIDENT_OWNER} "
        f"ORDER BY overdue DESC, {_NEWEST_AT_COMMAND} LIMIT $1",
        limit, _now(now),
    )  # fmt: skip
    return [_row(r) for r in rows]


async def escalated_by_incident(conn: Conn, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """What is command's, one row per incident: how many of its open complaints are escalated to command,
    how many of those are P1, overdue, in the command queue, and when the longest-waiting of them was received
    (`oldest_received_at`: the caller's wait). Most urgent first: P1, then overdue, then escalated, then the
    longest waiting. Complaints only, GROUP BY incident_id: no timeline lookup per complaint (in a surge
    thousands are escalated), which is why the wait counts from the call, not from the escalation. A case still
    in a merged incident (triage moves it within moments) counts under the incident it was merged into."""
    rows = await conn.fetch(
        "WITH e AS (SELECT COALESCE(mi.merged_into, c.incident_id) AS incident_id, count(*) AS escalated, "
        "count(*) FILTER (WHERE c.level = 'P1') AS p1, "
        f"count(*) FILTER (WHERE {overdue_sql('$1', 'c')}) AS overdue, "
        f"count(*) FILTER (WHERE c.department = {_COMMAND}) AS in_command_queue, "
        "min(c.received_at) AS oldest_received_at "
        f"FROM {S}.complaints c LEFT JOIN {S}.incidents mi ON mi.id = c.incident_id "
        f"WHERE c.incident_id IS NOT NULL AND {_WITH_COMMAND} GROUP BY 1) "
        "SELECT e.incident_id AS id, i.title, i.kind, i.districts, i.status, e.escalated, e.p1, e.overdue, "
        "e.in_command_queue, e.oldest_received_at, i.responsible, i.responsible_since "
        f"FROM e LEFT JOIN {S}.incidents i ON i.id = e.incident_id "
        "ORDER BY e.p1 DESC, e.overdue DESC, e.escalated DESC, e.oldest_received_at, e.incident_id",
        _now(now),
    )  # fmt: skip
    return [_row(r) for r in rows]


async def pending_extensions(conn: Conn, *, limit: int = 50) -> list[dict[str, Any]]:
    """Open complaints whose department asked for more time and command has not answered: the longest
    waiting first, with what was asked (`minutes`, `reason`, `requested_at`)."""
    rows = await conn.fetch(
        "SELECT c.id, c.tracking_code, c.status, c.level, c.category, c.district, c.department, c.resolve_by, "
        "r.at AS requested_at, (r.detail ->> 'minutes')::int AS minutes, r.detail ->> 'reason' AS reason "
        f"FROM {S}.complaints c LEFT JOIN LATERAL (SELECT t.at, t.detail FROM {S}.complaint_timeline t "
        "WHERE t.complaint_id = c.id AND t.kind = 'ExtensionRequested' ORDER BY t.version DESC LIMIT 1) r ON true "
        f"WHERE c.extension_pending AND c.status IN {_OPEN_SQL} "
        "ORDER BY r.at ASC NULLS LAST, c.id LIMIT $1",
        limit,
    )  # fmt: skip
    return [_row(r) for r in rows]


async def dead_letters(conn: Conn, *, limit: int = 50) -> list[dict[str, Any]]:
    """Events workers set aside after repeated failures, the latest first (`position`: the dead letter's own
    place in the stream; `event_position`, `event_subject`: the failed event's). `retry_state` is NULL until
    staff ask for a retry, then pending, succeeded, failed (`retry_failed_position`: the newer dead letter it
    left) or ignored; `retry_of` names the dead letter a failed retry came from."""
    rows = await conn.fetch(
        "SELECT position, worker, event_position, event_subject, topic, error, attempts, at, "
        "retry_state, retry_position, retry_requested_at, retry_requested_by, retry_succeeded_at, "
        "retry_failed_at, retry_failed_position, retry_of "
        f"FROM {S}.dead_letters ORDER BY position DESC LIMIT $1",
        limit,
    )
    return [_row(r) for r in rows]


async def unassigned_counts(conn: Conn) -> dict[str, int]:
    """What nobody owns (no person responsible, 责任人): `unassigned_major`, the open cases with command (as
    `board_counts` counts them) that name nobody and are in no incident that names someone; and
    `unassigned_incidents`, the incidents not resolved that name nobody."""
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {S}.complaints c {_INCIDENT_OWNER} "
        f"WHERE {_WITH_COMMAND} AND c.responsible IS NULL AND io.responsible IS NULL) AS unassigned_major, "
        f"(SELECT count(*) FROM {S}.incidents WHERE status <> 'resolved' AND responsible IS NULL "
        "AND merged_into IS NULL) "
        "AS unassigned_incidents"
    )
    return {key: int(value) for key, value in dict(row).items()}


async def projection_position(conn: Conn, name: str = "read_models") -> int:
    """How far the read models have got in the stream: an API waits for its write's position here."""
    return int(
        await conn.fetchval(f"SELECT position FROM {S}.projection_tracking WHERE name = $1", name) or 0
    )


async def board(conn: Conn, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the command board shows, as of `now`. Incidents come most urgent first (all of them; the page
    shows the top ones); what is with command comes both per complaint (`escalated_to_command`, newest first)
    and as the board shows it: per incident, then the cases to decide one by one (`escalated_individual`).
    `merge_suggestions`: active incidents that may be one event (`merge_suggestions`); `map_districts`: the map's
    counts per district, of every open case of the district, located or not (from `board_counts`' one pass)."""
    at = _now(now)
    counts = await board_counts(conn, now=at)
    map_districts = counts.pop("map_districts")
    rejected, rejected_count = await rejected_recently(conn, now=at)
    return {
        "as_of": at,
        "position": await projection_position(conn),
        "counts": {**counts, **await unassigned_counts(conn), "rejected_recently": rejected_count},
        "departments": await department_stats(conn, now=at),
        "incidents": await incidents_with_counts(conn, now=at, by_urgency=True),
        "merge_suggestions": await merge_suggestions(conn),
        "newest_p1": await newest_p1(conn, now=at),
        "escalated_to_command": await escalated_to_command(conn, now=at),
        "escalated_by_incident": await escalated_by_incident(conn, now=at),
        "escalated_individual": await escalated_individual(conn, now=at),
        "extension_requests": await pending_extensions(conn),
        "dead_letters": await dead_letters(conn, limit=20),
        "overdue": await overdue_list(conn, now=at),
        "rejected_recently": rejected,
        "hotspots": await hotspots(conn, now=at),
        "map": await map_points(conn),
        "map_districts": map_districts,
    }
