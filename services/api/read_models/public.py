"""Public reads: status by tracking code, published notices, Open311 GeoReport v2 requests.

Nothing here returns a reporter's personal data or the complaint's description: the public status comes from
the `public_status` / `public_progress` views, public progress notes are masked (`public_text`), Open311
locations are rounded and addresses are districts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.publishing.redaction import mask
from events.reference import Reference, load_reference
from services.api.read_models.queries import Conn, S

# Internal work-order steps in the words the public sees.
PUBLIC_STATUS = {
    "received": "received", "validated": "received", "prioritised": "received", "dispatched": "in_progress",
    "accepted": "in_progress", "returned": "in_progress", "reopened": "in_progress", "resolved": "resolved",
    "followed_up": "resolved", "closed": "closed", "rejected": "not_accepted", "duplicate": "merged",
}  # fmt: skip
CLOSED_FOR_OPEN311 = ("resolved", "followed_up", "closed", "rejected", "duplicate")
# About 110 m: enough to place a request on a map, not enough to point at one home.
COORDINATE_DECIMALS = 3


async def public_status(conn: Conn, tracking_code: str) -> dict[str, Any] | None:
    """{tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
    updated_at, progress: [{at, text}]} or None. A code reused by chance returns the newest complaint.
    The notes' text has personal data masked."""
    record = await conn.fetchrow(
        f"SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, "
        f"closed_at, updated_at FROM {S}.public_status WHERE tracking_code = $1 ORDER BY received_at DESC LIMIT 1",
        tracking_code,
    )
    if record is None:
        return None
    notes = await conn.fetch(
        f"SELECT at, text FROM {S}.public_progress WHERE complaint_id = $1 ORDER BY version", record["id"]
    )
    result = {key: value for key, value in dict(record).items() if key != "id"}
    result["status"] = PUBLIC_STATUS.get(record["status"], record["status"])
    result["progress"] = [{**dict(n), "text": public_text(n["text"])} for n in notes]
    return result


async def published_notices(conn: Conn, *, incident: Any = None, limit: int = 50) -> list[dict[str, Any]]:
    """Notices as last published (a pending update is not shown; cancelled ones are gone), newest first."""
    rows = await conn.fetch(
        "SELECT id, incident_id, public_title_en AS title_en, public_title_zh AS title_zh, "
        "public_body_en AS body_en, public_body_zh AS body_zh, public_status AS status, published_version "
        f"AS version, first_published_at, published_at FROM {S}.notices "
        "WHERE published_version > 0 AND state <> 'cancelled' AND ($1::uuid IS NULL OR incident_id = $1) "
        "ORDER BY published_at DESC LIMIT $2",
        incident, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def open311_requests(
    conn: Conn,
    *,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
    limit: int = 1000,
    include_description: bool = False,
    reference: Reference | None = None,
) -> list[dict[str, Any]]:
    """GeoReport v2 `GET requests`. `service_request_id` is the tracking code (a comma list is allowed);
    `status` is open or closed. `description` is the category's name unless `include_description` (staff)."""
    ref = reference or load_reference()
    args: list[Any] = []
    where: list[str] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    closed = "(" + ", ".join(f"'{s}'" for s in CLOSED_FOR_OPEN311) + ")"
    if service_request_id:
        codes = [code.strip() for code in service_request_id.split(",") if code.strip()]
        where.append(f"c.tracking_code = ANY({param(codes)}::text[])")
    if service_code:
        where.append(f"c.category = {param(ref.category_by_service_code(service_code).code)}")
    if start_date is not None:
        where.append(f"c.received_at >= {param(start_date)}")
    if end_date is not None:
        where.append(f"c.received_at <= {param(end_date)}")
    if status == "open":
        where.append(f"c.status NOT IN {closed}")
    elif status == "closed":
        where.append(f"c.status IN {closed}")
    rows = await conn.fetch(
        f"SELECT c.tracking_code, c.status, c.category, c.district, c.department, c.description, c.lat, c.lon, "
        f"c.received_at, c.updated_at, c.resolve_by, "
        f"(SELECT p.text FROM {S}.public_progress p WHERE p.complaint_id = c.id ORDER BY p.version DESC LIMIT 1) "
        f"AS note FROM {S}.complaints c {'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY c.received_at DESC LIMIT {param(limit)}",
        *args,
    )
    return [_open311(dict(r), ref, include_description) for r in rows]


def _open311(row: dict[str, Any], ref: Reference, include_description: bool) -> dict[str, Any]:
    category = _lookup(ref.categories, row["category"])
    district = _lookup(ref.districts, row["district"])
    department = _lookup(ref.departments, row["department"])
    name = category.name_en if category else None
    lat, lon = row["lat"], row["lon"]
    return {
        "service_request_id": row["tracking_code"],
        "status": "closed" if row["status"] in CLOSED_FOR_OPEN311 else "open",
        "status_notes": row["note"] if include_description else public_text(row["note"]),
        "service_name": name,
        "service_code": category.service_code if category else None,
        "description": row["description"] if include_description else name,
        "agency_responsible": department.name_en if department else None,
        "requested_datetime": row["received_at"],
        "updated_datetime": row["updated_at"],
        "expected_datetime": row["resolve_by"],
        "address": district.name_en if district else None,
        "lat": round(lat, COORDINATE_DECIMALS) if lat is not None else None,
        "long": round(lon, COORDINATE_DECIMALS) if lon is not None else None,
    }


def public_text(text: str | None) -> str | None:
    """A department's public note, masked: whoever typed it may have copied the caller's number or ID in."""
    return mask(text) if text else text


def _lookup(items: tuple[Any, ...], code: str | None) -> Any:
    return next((item for item in items if item.code == code), None) if code else None
