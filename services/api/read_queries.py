"""Reads the API needs that `services.api.read_models.queries` / `services.api.read_models.public` do not offer (yet).

- the working list of notices (press and command staff see drafts and their approval state);
- what a department needs to work a case in its queue (the description, how many people, who is vulnerable);
- Open311 `GET requests`, keyed by the complaint id that `POST requests.json` answers with (a tracking code
  is accepted too); services/api/open311_requests.py formats the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from events.notice import text_digest
from services.api.read_models.public import CLOSED_FOR_OPEN311
from services.api.read_models.queries import Conn, S

_CLOSED_SQL = "(" + ", ".join(f"'{s}'" for s in CLOSED_FOR_OPEN311) + ")"


async def staff_notices(conn: Conn, *, limit: int = 200) -> list[dict[str, Any]]:
    """Every notice, newest change first: the working text, its state, who wrote and who approved it.

    Summary drafts a newer one replaced (state `superseded`) come after all the others, newest first: they
    stay visible as such, and are the first left out when the list is longer than `limit`."""
    rows = await conn.fetch(
        "SELECT id, incident_id, state, status, title_en, title_zh, body_en, body_zh, author, approved_by, "
        "public_title_en, public_title_zh, public_status, published_version, first_published_at, published_at, "
        f"cancelled_at, drafted_at, updated_at FROM {S}.notices "
        "ORDER BY state = 'superseded', updated_at DESC, id LIMIT $1",
        limit,
    )
    # text_sha256: what command's approval names, so it approves the text it was shown (events/notice.py).
    return [
        {
            **r,
            "text_sha256": text_digest(r["title_en"], r["title_zh"], r["body_en"], r["body_zh"], r["status"]),
        }
        for r in map(dict, rows)
    ]


async def case_details(conn: Conn, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """What a department reads before it accepts a case, by complaint id."""
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT id, description, people_affected, vulnerable, incident_id FROM {S}.complaints "
        "WHERE id = ANY($1::uuid[])",
        ids,
    )
    return {r["id"]: {k: v for k, v in dict(r).items() if k != "id"} for r in rows}


async def open311_rows(
    conn: Conn,
    *,
    ids: list[UUID] | None = None,
    codes: list[str] | None = None,
    categories: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Complaint rows for GeoReport v2, newest first. `ids`/`codes` select by id or tracking code (either
    matches); the latest public progress note comes along as `note`. Formatting is the caller's."""
    args: list[Any] = []
    where: list[str] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if ids is not None or codes is not None:
        where.append(
            f"(c.id = ANY({param(ids or [])}::uuid[]) OR c.tracking_code = ANY({param(codes or [])}::text[]))"
        )
    if categories is not None:
        where.append(f"c.category = ANY({param(categories)}::text[])")
    if start is not None:
        where.append(f"c.received_at >= {param(start)}")
    if end is not None:
        where.append(f"c.received_at <= {param(end)}")
    if status == "open":
        where.append(f"c.status NOT IN {_CLOSED_SQL}")
    elif status == "closed":
        where.append(f"c.status IN {_CLOSED_SQL}")
    rows = await conn.fetch(
        "SELECT c.id, c.tracking_code, c.status, c.category, c.district, c.department, c.lat, c.lon, "
        "c.received_at, c.updated_at, c.resolve_by, c.rejection_reason, "
        f"(SELECT p.text FROM {S}.public_progress p WHERE p.complaint_id = c.id ORDER BY p.version DESC LIMIT 1) "
        f"AS note FROM {S}.complaints c {'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY c.received_at DESC, c.id LIMIT {param(limit)}",
        *args,
    )
    return [dict(r) for r in rows]
