"""Open311 GeoReport v2 `GET requests` and `GET requests/{service_request_id}` (each as .xml and .json), read
from the projection tables, with the spec's field names and its errors.

`service_request_id` is the complaint id that `POST requests` answered with; a tracking code is
accepted too (a caller reads that one out on the phone). A tracking code is short and lets anyone read a
complaint's status, so no answer here shows one, and each code looked up costs a token of the same rate limit
as `/api/v1/status` (at most MAX_CODES a request). A list by filters costs a token of its own (each is up to
MAX_RESULTS requests). No api_key is needed to read, so nothing here is
personal: `description` is the service's name (the free text may name people), `status_notes` (a department's
public note) has phones, ID numbers and emails masked, the address is the district, and coordinates are
rounded to about 110 m.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from events.complaint_rules import normal_tracking_code
from events.reference import Reference, load_reference
from services.api import ratelimit
from services.api.open311_format import BASE, Answer, Open311Error, add_both, described_both, error_responses
from services.api.query_time import parse_query_time
from services.api.read_models.public import CLOSED_FOR_OPEN311, COORDINATE_DECIMALS, public_text
from services.api.read_queries import open311_rows
from services.api.read_routes import reading

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
DEFAULT_DAYS = 90  # the spec: without dates, the last 90 days; a date range may not span more
MAX_RESULTS = 1000
# service_request_id values in one GET: what a request line of aiohttp's 8 KB holds (each id 36 characters and a
# comma); beyond it aiohttp answers a plain 400 before any handler could answer in the spec's array.
MAX_IDS = 200
MAX_CODES = 10  # tracking codes in one request: a caller's own few, not a guessing list
STATUSES = ("open", "closed")
RESOLVED = ("resolved", "followed_up", "closed")  # closed follows a resolution (a rejection is "rejected")
DUPLICATE_NOTE = "重复：同一来电人已就同一事件报告，于首次报告跟进 (a repeat of this caller's earlier report: followed up there)"


def add_routes(app: web.Application) -> None:
    add_both(app, "GET", f"{BASE}/requests", list_requests, "open311.requests.list")
    add_both(app, "GET", f"{BASE}/requests/{{service_request_id}}", one_request, "open311.request")


async def list_requests(request: web.Request) -> Answer:
    q = request.query
    _check_jurisdiction(q.get("jurisdiction_id"))
    if q.get("service_request_id"):
        # The spec: a service_request_id list overrides every other argument.
        ids, codes = _split_ids(request, q["service_request_id"])
        return _answer(await _rows(request, ids=ids, codes=codes, limit=MAX_RESULTS))
    start, end = _date(q.get("start_date"), "start_date"), _date(q.get("end_date"), "end_date")
    if (limiter := request.app.get(ratelimit.LIMITER)) is not None:
        limiter.take_listing(request)  # up to MAX_RESULTS rows: one flooding reader slowed every other route
    if start is None and end is None:
        start = datetime.now(UTC) - timedelta(days=DEFAULT_DAYS)
    elif start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        # A date-only end_date counts its whole day: 2026-04-01 to 2026-06-30 is 90 days, not one too many.
        whole_day = timedelta(days=1) if _DATE_ONLY.fullmatch(q.get("end_date", "").strip()) else timedelta()
        if end - start > timedelta(days=DEFAULT_DAYS) + whole_day:
            raise Open311Error(400, f"start_date to end_date may span at most {DEFAULT_DAYS} days")
    rows = await _rows(
        request, categories=_categories(q.get("service_code")), start=start, end=end,
        status=_status(q.get("status")), limit=MAX_RESULTS,
    )  # fmt: skip
    return _answer(rows)


async def one_request(request: web.Request) -> Answer:
    _check_jurisdiction(request.query.get("jurisdiction_id"))
    wanted = request.match_info["service_request_id"]
    if "," in wanted:  # one request by its id (a list is GET requests' service_request_id)
        raise Open311Error(
            404, f"service_request_id {wanted!r} not found: one id here, a list in GET requests"
        )
    ids, codes = _split_ids(request, wanted)
    rows = await _rows(request, ids=ids, codes=codes, limit=1)
    if not rows:
        raise Open311Error(404, f"service_request_id {wanted!r} not found")
    return _answer(rows)


async def _rows(request: web.Request, **filters: Any) -> list[dict[str, Any]]:
    async with reading(request) as conn:  # PostgreSQL down: a 503 in the spec's errors (spec_errors)
        return await open311_rows(conn, **filters)


def _answer(rows: list[dict[str, Any]]) -> Answer:
    ref = load_reference()
    value = [service_request(row, ref) for row in rows]
    return Answer("service_requests", value, headers={"Cache-Control": "no-store"})


def service_request(row: dict[str, Any], ref: Reference) -> dict[str, Any]:
    """One complaint row as a GeoReport v2 service request."""
    category = _find(ref.categories, row["category"])
    district = _find(ref.districts, row["district"])
    department = _find(ref.departments, row["department"])
    name = category.name_en if category else None
    lat, lon = row["lat"], row["lon"]
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["status"] in CLOSED_FOR_OPEN311 else "open",
        "status_notes": _status_notes(row, department),
        "service_name": name,
        "service_code": category.service_code if category else None,
        "description": name,
        "agency_responsible": department.name_en if department else None,
        "service_notice": None,  # never the tracking code: it is the key to the complaint's status
        "requested_datetime": _w3c(row["received_at"]),
        "updated_datetime": _w3c(row["updated_at"]),
        "expected_datetime": _w3c(row["resolve_by"]),
        "address": district.name_en if district else None,
        "address_id": None,
        "zipcode": None,
        "lat": round(lat, COORDINATE_DECIMALS) if lat is not None else None,
        "long": round(lon, COORDINATE_DECIMALS) if lon is not None else None,
        "media_url": None,
    }


def _status_notes(row: dict[str, Any], department: Any) -> str | None:
    """Why the status is what it is: for a request not taken up, the reason (as /api/v1/status gives it; a
    client could not tell it from a resolved one, both being closed); for a resolved one, that it was and by
    whom, then its latest public note (found by a review: a closed request said only "crew on the way"); else
    the latest public note. Notes are masked; a resolution's own summary is internal and never shown."""
    if row["status"] == "rejected" and row["rejection_reason"]:
        return public_text(row["rejection_reason"])
    if row["status"] == "duplicate":
        return DUPLICATE_NOTE
    note = public_text(row["note"])
    if row["status"] in RESOLVED:
        done = (
            f"已办结：{department.name_zh} (resolved by {department.name_en})"
            if department is not None else "已办结 (resolved)"
        )  # fmt: skip
        return f"{done}. {note}" if note else done
    return note


def _w3c(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value is not None else None


def _find(items: tuple[Any, ...], code: str | None) -> Any:
    return next((item for item in items if item.code == code), None) if code else None


def _check_jurisdiction(value: str | None) -> None:
    area = load_reference().area.code
    if value not in (None, "", area):
        raise Open311Error(404, f"jurisdiction_id not found: this endpoint serves {area!r}")


def _split_ids(request: web.Request, raw: str) -> tuple[list[UUID], list[str]]:
    """Complaint ids and tracking codes; each code costs a status lookup's token (a 429 in the array)."""
    ids: list[UUID] = []
    codes: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            ids.append(UUID(part))
        except ValueError:
            # A tracking code as /status reads it (full-width, any dash, the punctuation an SMS brings).
            codes.append(normal_tracking_code(part) or part.upper())
    if len(ids) + len(codes) > MAX_IDS:
        raise Open311Error(400, f"at most {MAX_IDS} service_request_id values")
    if len(codes) > MAX_CODES:
        raise Open311Error(400, f"at most {MAX_CODES} tracking codes in service_request_id")
    limiter = request.app.get(ratelimit.LIMITER)
    if limiter is not None:
        for _ in codes:
            limiter.take_status(request)  # guessing codes here is as slow as at /api/v1/status
    return ids, codes


def _categories(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    by_code = {c.service_code: c.code for c in load_reference().categories}
    wanted = [code.strip() for code in raw.split(",") if code.strip()]
    unknown = [code for code in wanted if code not in by_code]
    if unknown:
        raise Open311Error(404, f"service_code not found: {', '.join(unknown)}")
    return [by_code[code] for code in wanted]


def _status(raw: str | None) -> str | None:
    if not raw:
        return None
    wanted = {s.strip().lower() for s in raw.split(",") if s.strip()}
    if not wanted <= set(STATUSES):
        raise Open311Error(400, "status: open, closed or open,closed")
    return None if len(wanted) == 2 else wanted.pop()


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = parse_query_time(raw)
        # Without an offset, the city's own time: start_date=2026-07-01 is that calendar day there, not in UTC.
        parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=load_reference().area.tz)
        if name == "end_date" and _DATE_ONLY.fullmatch(raw.strip()):
            parsed += timedelta(days=1, microseconds=-1)  # that calendar day included, to its end
        return parsed.astimezone(UTC)  # year 1 at +14:00 is no date PostgreSQL can hold: refused here
    except (ValueError, OverflowError):
        raise Open311Error(
            400, f"{name}: a w3c date-time, e.g. 2026-07-01T08:00:00%2B08:00 (+ escaped)"
        ) from None


_REQUEST = {"type": "object", "required": ["service_request_id", "status", "requested_datetime"], "properties": {
    **{name: {"type": ["string", "null"]} for name in (
        "service_request_id", "status_notes", "service_name", "service_code", "description",
        "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
        "address", "address_id", "zipcode", "media_url")},
    "status": {"type": "string", "enum": list(STATUSES)},
    "lat": {"type": ["number", "null"]}, "long": {"type": ["number", "null"]}}}  # fmt: skip
_LIST = {"200": {"description": "Service requests, newest first (at most 1000)", "content": {
    "application/json": {"schema": {"type": "array", "items": _REQUEST}}}}}  # fmt: skip


def _q(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


OPENAPI_PATHS: dict[str, Any] = {
    **described_both(f"{BASE}/requests", "get", {
        "operationId": "open311ListRequests", "summary": "Service requests (GeoReport v2); public, no api_key",
        "tags": ["open311"], "security": [{}],
        "parameters": [
            _q("jurisdiction_id", "this deployment's area code"),
            _q("service_request_id", "comma-separated ids, at most 200 (or at most 10 tracking codes, each one "
               "spending a status lookup's rate limit); overrides every other filter"),
            _q("service_code", "comma-separated service codes"),
            _q("start_date", "w3c date-time: received at or after"),
            _q("end_date", "w3c date-time: received at or before (a range spans at most 90 days); a date alone "
               "includes that day"),
            _q("status", "open, closed or open,closed"),
        ],
        "responses": {**_LIST, **error_responses(400, 404, 429, 503)},
    }),
    **described_both(f"{BASE}/requests/{{service_request_id}}", "get", {
        "operationId": "open311GetRequest", "summary": "One service request (an array of one, as the spec has it)",
        "tags": ["open311"], "security": [{}],
        "parameters": [{"name": "service_request_id", "in": "path", "required": True, "schema": {"type": "string"}},
                       _q("jurisdiction_id", "this deployment's area code")],
        "responses": {**_LIST, **error_responses(400, 404, 429, 503)},
    }),
}  # fmt: skip
