"""The operator console's reads over the read-model tables (schema `levee_read`). Reads only.

Kept in the API (the API does not import `projections`): the SQL names the live schema the projector keeps.
A caller is found by `caller_key` (a hash of the keyed contact hash), never by a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from services.api.read_models.queries import department_rates
from services.api.read_models.report import handling_time_by_hour

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
S = "levee_read"
OPEN = ("received", "validated", "prioritised", "dispatched", "accepted", "returned", "reopened")
HISTORY_COLUMNS = (
    "id, tracking_code, status, level, category, district, department, description, received_at, accept_by, "
    "resolve_by, agreed_resolution_at, repeat_calls, reopen_count, emergency_service, first_contact"
)


async def caller_history(conn: Conn, caller_keys: list[str], since: datetime) -> list[dict[str, Any]]:
    """The caller's complaints received since `since`, newest first, open ones marked."""
    rows = await conn.fetch(
        f"SELECT {HISTORY_COLUMNS}, status = ANY($3::text[]) AS open FROM {S}.complaints "
        "WHERE caller_key = ANY($1::text[]) AND received_at >= $2 ORDER BY received_at DESC LIMIT 50",
        caller_keys, since, list(OPEN),
    )  # fmt: skip
    return [dict(r) for r in rows]


async def follow_up_queue(conn: Conn, *, max_attempts: int, limit: int = 100) -> list[dict[str, Any]]:
    """Resolved complaints waiting for their follow-up call: P1 first, then the oldest resolution.
    A case whose attempts are used up was recorded as not contacted and leaves the queue."""
    # With what the caller reported and what the department says it did: the operator rings back knowing the case
    # (a review found the row only a code, a level and a department). A redacted case is not in the queue.
    rows = await conn.fetch(
        f"SELECT q.*, c.description, (SELECT t.detail ->> 'summary' FROM {S}.complaint_timeline t "
        "WHERE t.complaint_id = q.id AND t.kind = 'ComplaintResolved' ORDER BY t.version DESC LIMIT 1) "
        f"AS resolution_summary FROM {S}.follow_up_queue q JOIN {S}.complaints c ON c.id = q.id "
        "WHERE q.follow_up_attempts < $1 ORDER BY COALESCE(q.level, 'P9'), q.resolved_at, q.id LIMIT $2",
        max_attempts, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def current_facts(conn: Conn, *, district: str | None, category: str | None) -> dict[str, Any]:
    """Active incidents touching the district, those of the caller's category first and then the most reported
    (in a surge dozens of small incidents would bury the one the caller is ringing about), and notices as
    last published (newest first). An incident with no districts covers the whole served area."""
    incidents = await conn.fetch(
        f"SELECT id, title, kind, districts, status, declared_at, linked_complaints FROM {S}.incidents "
        "WHERE status <> 'resolved' AND merged_into IS NULL "  # a merged incident lives on in the other
        "AND ($1::text IS NULL OR $1 = ANY(districts) OR cardinality(districts) = 0) "
        "ORDER BY (kind = $2) DESC, linked_complaints DESC, declared_at DESC LIMIT 20",
        district, category or "",
    )  # fmt: skip
    notices = await conn.fetch(
        "SELECT n.id, n.incident_id, n.public_title_en AS title_en, n.public_title_zh AS title_zh, "
        "n.public_body_en AS body_en, n.public_body_zh AS body_zh, n.public_status AS status, n.published_at "
        f"FROM {S}.notices n LEFT JOIN {S}.incidents i ON i.id = n.incident_id "
        "WHERE n.published_version > 0 AND n.state <> 'cancelled' "
        "AND ($1::text IS NULL OR i.id IS NULL OR $1 = ANY(i.districts)) "
        "ORDER BY n.published_at DESC LIMIT 20",
        district,
    )
    return {"incidents": [dict(r) for r in incidents], "notices": [dict(r) for r in notices]}


async def notice_is_published(conn: Conn, notice_id: UUID) -> bool:
    found = await conn.fetchval(
        f"SELECT true FROM {S}.notices WHERE id = $1 AND published_version > 0 AND state <> 'cancelled'",
        notice_id,
    )
    return bool(found)


async def operator_report(conn: Conn) -> dict[str, Any]:
    """First-contact answers given, satisfaction and reopen rates by department, handling time by hour."""
    answers = await conn.fetch(
        f"SELECT first_contact_answer AS answer, count(*) AS resolutions FROM {S}.complaints "
        "WHERE first_contact GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    transfers = await conn.fetch(
        f"SELECT emergency_service AS service, count(*) AS transfers FROM {S}.complaints "
        "WHERE emergency_service IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    return {
        "first_contact": {
            "total": sum(r["resolutions"] for r in answers),
            "by_answer": [dict(r) for r in answers],
        },
        "by_department": await department_rates(conn),
        "handling_time_by_hour": await handling_time_by_hour(conn),
        "emergency_transfers": {r["service"]: r["transfers"] for r in transfers},
    }
