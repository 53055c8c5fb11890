"""Read endpoints (JSON) over the projection tables: staff lists and queues, the board, public status,
notices and the after-action summary. Reads only; nothing here touches NATS.

Who sees what (DOMAIN.md): operators and command staff see every complaint; department staff only the
cases held by their department (another department's case is 403, as for commands); the press sees
aggregates and published text, never a complaint; the public sees a complaint's public status by its
tracking code, published notices and the reference data (districts, categories, departments).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiohttp import web
from multidict import MultiMapping

from events.complaint_rules import TRACKING_CODE, Status, normal_tracking_code
from events.reference import COMMAND_QUEUE, LEVELS, Department, District, load_reference
from events.store import JetStreamEventStore, StoreError
from services.api import keys, ratelimit
from services.api.auth import require_holding_department, require_role
from services.api.board_cache import BoardCache, ComputedBoard
from services.api.gzip_coding import takes_gzip
from services.api.lateness import lateness
from services.api.openapi import problem_responses
from services.api.pg_bounded import connection_until
from services.api.principal import PRINCIPAL, PUBLIC, Principal
from services.api.problems import FieldError, Problem, invalid
from services.api.query_time import parse_query_time
from services.api.read_models import public, queries, report
from services.api.read_queries import case_details, staff_notices

log = structlog.get_logger(__name__)

API = "/api/v1"
CASE_ROLES = ("operator", "command", "department")
QUEUE_ROLES = ("command", "department")
BOARD_ROLES = ("command",)
DEAD_LETTER_ROLES = ("command",)
REPORT_ROLES = ("command", "press")
NOTICE_ROLES = ("command", "press")
INCIDENT_ROLES = ("operator", "command", "department", "press")
MAX_LIMIT = 200
QUEUE_LIMIT, MAX_QUEUE_LIMIT = 200, 1000  # a department queue's cases per answer: default, most
BOARD_CACHE = web.AppKey("board_cache", BoardCache)
# [read-model position, when, lateness] last asked for a department's queue; [] before the first (a list: the
# app is frozen once it serves, its contents are not)
LATENESS_CACHE = web.AppKey("lateness_cache", list)
LATENESS_REUSE_SECONDS = 1.0
STREAM_ASK_TIMEOUT = 2.0  # seconds for a read route to ask the stream something (a code's claim, its end)
# Down, or shutting down / starting up / restarting ("the database system is starting up" is an operator
# intervention to asyncpg, not a connection error): a 503 either way.
_PG_DOWN = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError, asyncpg.InsufficientResourcesError,  # too many connections, disk full, no memory
)  # fmt: skip
# Also a column a migration adds (an API upgraded before its projector ran the migration): 503, not 500.
_NOT_MIGRATED = (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.UndefinedColumnError)
_STATUSES = tuple(s.value for s in Status)
_ESCALATION = ("0", "1", "2", "escalated")


# -- plumbing ----------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


dumps: Callable[[Any], str] = partial(json.dumps, default=_default, ensure_ascii=False)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        data, status=status, dumps=dumps, headers={"Cache-Control": "no-store", **(headers or {})}
    )


_READ_DEADLINE = web.RequestKey("read_deadline", float)  # the loop time a request's reads must end by


@asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; PostgreSQL down or the read models not created yet is a 503, not a 500.

    A request's reads together get keys.READ_SECONDS: with PostgreSQL hung (alive, answering nothing) a board
    waited out a statement timeout per read and then the connection's reset, 90 s, past the 60 s a proxy in front
    waits (found by a review following the runbook); inside the board's transaction, 63 s and a 500. At the
    deadline the connection is closed under the read (services/api/pg_bounded.py)."""
    deadline = request.get(_READ_DEADLINE)
    if deadline is None:
        deadline = request[_READ_DEADLINE] = asyncio.get_running_loop().time() + keys.READ_SECONDS
    try:
        async with connection_until(request.app[keys.PG_POOL], deadline) as conn:
            yield conn
    except TimeoutError as exc:
        raise keys.DependencyUnavailable(
            "PostgreSQL", f"did not answer within {keys.READ_SECONDS:.0f} s"
        ) from exc
    except _PG_DOWN as exc:
        raise keys.DependencyUnavailable("PostgreSQL", f"cannot read: {type(exc).__name__}") from exc
    except _NOT_MIGRATED as exc:
        raise keys.DependencyUnavailable(
            "PostgreSQL", "the read models are not created yet (is the projector running?)"
        ) from exc


def _choices(
    query: MultiMapping[str], name: str, allowed: tuple[str, ...], errors: list[FieldError]
) -> list[str] | None:
    raw = query.get(name)
    if raw is None or not raw.strip():
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        errors.append(FieldError(name, f"{', '.join(wrong)}: use {', '.join(allowed)} (comma-separated)"))
    return values


def _one_of(
    query: MultiMapping[str], name: str, allowed: tuple[str, ...], errors: list[FieldError]
) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        errors.append(FieldError(name, f"use one of {', '.join(allowed)}"))
        return None
    return value


def _uuid(query: MultiMapping[str], name: str, errors: list[FieldError]) -> UUID | None:
    value = query.get(name)
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        errors.append(FieldError(name, "must be a UUID"))
        return None


def _boolean(query: MultiMapping[str], name: str, errors: list[FieldError]) -> bool | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    errors.append(FieldError(name, "true or false"))
    return None


def _int(
    query: MultiMapping[str], name: str, default: int, low: int, high: int, errors: list[FieldError]
) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        errors.append(FieldError(name, f"a whole number from {low} to {high}"))
        return default
    return number


def _datetime(query: MultiMapping[str], name: str, errors: list[FieldError]) -> datetime | None:
    value = query.get(name)
    if not value:
        return None
    try:
        parsed = parse_query_time(value)
    except ValueError:
        errors.append(
            FieldError(
                name, "an ISO 8601 date-time with its offset, e.g. 2026-07-01T08:00:00%2B08:00 (+ escaped)"
            )
        )
        return None
    if parsed.tzinfo is None:
        errors.append(FieldError(name, "give the offset (e.g. +08:00 or Z): a time without one is ambiguous"))
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00: past what a date can hold in UTC
        errors.append(FieldError(name, "out of range"))
        return None


def _known_codes(kind: str) -> tuple[str, ...]:
    ref = load_reference()
    by_kind: dict[str, tuple[Department, ...] | tuple[District, ...]] = {
        "department": ref.departments,
        "district": ref.districts,
    }
    items = by_kind[kind]
    return tuple(item.code for item in items)


def _queue_codes() -> tuple[str, ...]:
    """What a case can be held by: the city's departments, and the queue dispatch sends to command (not a
    department of the city, so not in the reference data)."""
    return (*_known_codes("department"), COMMAND_QUEUE)


def _only_known(query: MultiMapping[str], params: list[dict[str, Any]], errors: list[FieldError]) -> None:
    """A parameter this route does not take is an error, not ignored: a misspelt filter would list everything.
    `params` are the route's OpenAPI parameters, so the document and the check cannot drift apart."""
    known = {p["name"] for p in params if p["in"] == "query"}
    for name in sorted(set(query) - known):
        errors.append(FieldError(name, f"unknown parameter: use {', '.join(sorted(known))}"))


def _not_found(noun: str, detail: str) -> Problem:
    return Problem(404, f"No such {noun}", detail, code="not_found")


# -- routes ------------------------------------------------------------------------------------------


def add_routes(app: web.Application) -> None:
    app[BOARD_CACHE] = BoardCache()  # nothing to open or close
    app[LATENESS_CACHE] = []
    r = app.router
    r.add_get(f"{API}/me", me, name="read.me")
    r.add_get(f"{API}/reference", reference, name="read.reference")
    r.add_get(f"{API}/complaints", list_complaints, name="read.complaints")
    r.add_get(f"{API}/complaints/{{id}}", complaint_detail, name="read.complaint")
    r.add_get(f"{API}/departments/{{code}}/queue", department_queue, name="read.queue")
    r.add_get(f"{API}/incidents", incidents, name="read.incidents")
    r.add_get(f"{API}/board", board, name="read.board")
    r.add_get(f"{API}/dead-letters", dead_letters, name="read.dead_letters")
    r.add_get(f"{API}/status/{{tracking_code}}", public_status, name="read.status")
    r.add_get(f"{API}/notices", published_notices, name="read.notices")
    r.add_get(f"{API}/staff/notices", working_notices, name="read.staff_notices")
    r.add_get(f"{API}/reports/summary", summary, name="read.summary")


async def me(request: web.Request) -> web.Response:
    principal: Principal = request.get(PRINCIPAL, PUBLIC)
    return json_response(
        {
            "role": principal.role,
            "kind": principal.kind,
            "name": principal.name,
            "department": principal.department,
        }
    )


async def reference(request: web.Request) -> web.Response:
    """The public reference data: what the pages label things with and draw the map from."""
    ref = load_reference()

    def box(item: Any) -> dict[str, float]:
        b = item.bbox
        return {"south": b.south, "west": b.west, "north": b.north, "east": b.east}

    return json_response(
        {
            "area": {"code": ref.area.code, "name_en": ref.area.name_en, "name_zh": ref.area.name_zh,
                     "bbox": box(ref.area), "time_zone": ref.area.time_zone},
            "districts": [{"code": d.code, "name_en": d.name_en, "name_zh": d.name_zh, "bbox": box(d)}
                          for d in ref.districts],
            "categories": [{"code": c.code, "name_en": c.name_en, "name_zh": c.name_zh,
                            "service_code": c.service_code, "group": c.group} for c in ref.categories],
            "departments": [{"code": d.code, "name_en": d.name_en, "name_zh": d.name_zh}
                            for d in ref.departments],
            "levels": [{"level": lv.level, "accept_within_minutes": lv.accept_within_minutes,
                        "resolve_within_minutes": lv.resolve_within_minutes} for lv in ref.levels],
            # What intake's `vulnerable` takes here (a deployment may name its own): the card offers these.
            "vulnerable_kinds": list(ref.vulnerable_kinds),
        },
        headers={"Cache-Control": "public, max-age=300"},
    )  # fmt: skip


async def list_complaints(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    require_role(principal, CASE_ROLES)
    q = request.query
    errors: list[FieldError] = []
    _only_known(q, _LIST_PARAMS, errors)
    filters: dict[str, Any] = {
        "status": _choices(q, "status", _STATUSES, errors),
        "level": _choices(q, "level", LEVELS, errors),
        "department": _one_of(q, "department", _queue_codes(), errors),
        "district": _one_of(q, "district", _known_codes("district"), errors),
        "incident": _uuid(q, "incident", errors),
        "overdue": _boolean(q, "overdue", errors),
        "escalation": _one_of(q, "escalation_level", _ESCALATION, errors),
        "extension_pending": _boolean(q, "extension_pending", errors),
        "tracking_code": _tracking_code_filter(q.get("tracking_code") or ""),
        "limit": _int(q, "limit", 50, 1, MAX_LIMIT, errors),
    }
    cursor = q.get("cursor") or None
    if cursor is not None:
        try:
            queries.decode_cursor(cursor)
        except (ValueError, UnicodeDecodeError, OverflowError):
            errors.append(FieldError("cursor", "not a cursor this API gave (use next_cursor as it is)"))
    if errors:
        raise invalid(errors)
    own = principal.department
    if own is not None:
        if filters["department"] not in (None, own):
            raise Problem(
                403, "Not your department's cases", f"Department staff see only {own}'s cases.",
                code="not_your_department",
            )  # fmt: skip
        filters["department"] = own
    async with reading(request) as conn:
        page = await queries.list_complaints(conn, cursor=cursor, **filters)
    return json_response(page)


async def complaint_detail(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    require_role(principal, CASE_ROLES)
    try:
        complaint_id = UUID(request.match_info["id"])
    except ValueError:
        raise _not_found("complaint", "Complaint ids are UUIDs.") from None
    async with reading(request) as conn:
        detail = await queries.complaint_detail(conn, complaint_id)
    if detail is None:
        raise _not_found("complaint", f"There is no complaint {complaint_id} (yet: the read models may lag).")
    require_holding_department(principal, detail["department"])
    return json_response(detail)


def department_in_path(request: web.Request, roles: tuple[str, ...]) -> str:
    """The `{code}` of a department's route, once the caller may read it: one of `roles`, and department staff
    only their own (403 `not_your_department`); an unknown code is 404."""
    principal = request[PRINCIPAL]
    require_role(principal, roles)
    code = request.match_info["code"]
    if code not in _queue_codes():
        raise _not_found("department", f"No department has code {code!r}.")
    if principal.department not in (None, code):
        raise Problem(
            403, "Not your department's cases", f"Your token is for {principal.department}.",
            code="not_your_department",
        )  # fmt: skip
    return code


async def department_queue(request: web.Request) -> web.Response:
    """The most urgent `limit` of a department's cases, and how many it holds (`total`). In a surge a
    department holds thousands: the page refetches on every commit, and all of them were megabytes each time."""
    code = department_in_path(request, QUEUE_ROLES)
    errors: list[FieldError] = []
    _only_known(request.query, _QUEUE_PARAMS, errors)
    limit = _int(request.query, "limit", QUEUE_LIMIT, 1, MAX_QUEUE_LIMIT, errors)
    if errors:
        raise invalid(errors)
    async with reading(request) as conn:
        items, total = await queries.department_queue(conn, code, limit=limit)
        details = await case_details(conn, [item["id"] for item in items])
        position = await queries.projection_position(conn)
    for item in items:
        item.update(details.get(item["id"], {}))
    now = datetime.now(UTC)
    # How far the queue runs behind the stream, as the board says it: a stalled projector left the page
    # "live" over a stale queue (found by a review of the pages in outages).
    late = await shared_lateness(request, position, now)
    return json_response({"department": code, "as_of": now, "total": total, "items": items, "lateness": late})


async def shared_lateness(request: web.Request, position: int, now: datetime) -> dict[str, Any] | None:
    """`stream_state`'s lateness, asked of nats-server at most once a second for one read-model position: every
    department's page refetches on every commit, and each asking five questions was waste."""
    cached = request.app[LATENESS_CACHE]
    if cached and cached[0] == position and time.monotonic() - cached[1] < LATENESS_REUSE_SECONDS:
        return cached[2]
    late = (await stream_state(request, position, now))["lateness"]
    cached[:] = [position, time.monotonic(), late]
    return late


async def incidents(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], INCIDENT_ROLES)
    errors: list[FieldError] = []
    _only_known(request.query, _INCIDENT_PARAMS, errors)
    merged = _boolean(request.query, "merged", errors)
    if errors:
        raise invalid(errors)
    async with reading(request) as conn:
        items = await queries.incidents_with_counts(conn, include_merged=bool(merged))
    return json_response({"items": items})


async def board(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], BOARD_ROLES)
    computed = await _board_json(request)
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if not takes_gzip(request.headers.get("Accept-Encoding", "")):
        return web.Response(text=computed.text, content_type="application/json", headers=headers)
    return web.Response(
        body=await computed.gzipped(), content_type="application/json",
        headers={**headers, "Content-Encoding": "gzip"},
    )  # fmt: skip


def _tracking_code_filter(typed: str) -> str | None:
    """A code as /status reads it; None (no filter) when none was typed. Typed but nothing of a code left (only
    punctuation, "。"): a filter that finds nothing, not every complaint (found by a review)."""
    if not typed.strip():
        return None
    return normal_tracking_code(typed) or "LV-"


async def _board_json(request: web.Request) -> ComputedBoard:
    """Many open boards refetch on the same commit: one computation answers them all (services/api/board_cache.py).
    Checking the position costs one primary-key read; a board older than it would hide a commit from its page."""
    async with reading(request) as conn:
        position = await queries.projection_position(conn)

    async def compute() -> tuple[int, str, float]:
        async with reading(request) as conn:
            began = time.monotonic()
            # One snapshot for every panel: counts and lists agree with each other, and with the position.
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                panels = await queries.board(conn)
            took = time.monotonic() - began
        at = int(panels["position"])
        return at, dumps({**panels, **await stream_state(request, at, panels["as_of"])}), took

    return await request.app[BOARD_CACHE].get(position, compute)


async def stream_state(request: web.Request, position: int, now: datetime) -> dict[str, Any]:
    """What the board must say about the stream itself:
    - `stream_gap`: the stream ending before what the read models already processed means acknowledged data
      was lost (ARCHITECTURE.md, failing closed): command staff must see it, not only a log line. None when
      the stream is whole, or NATS cannot say right now (the board still serves what it has);
    - `lateness`: how far the board and each worker are behind the stream (services/api/lateness.py); None
      when NATS cannot say within STREAM_ASK_TIMEOUT. Asked separately: a slow answer never hides a gap."""
    try:
        store = request.app[keys.NATS_LINK].store(timeout=STREAM_ASK_TIMEOUT)
        last = await store.last_sequence()
    except (keys.DependencyUnavailable, StoreError):
        return {"stream_gap": None, "lateness": None}
    gap = {"read_models_at": position, "stream_ends_at": last} if last < position else None
    return {"stream_gap": gap, "lateness": await _lateness(store, position, now)}


async def _lateness(
    store: JetStreamEventStore, position: int, now: datetime
) -> dict[str, dict[str, Any]] | None:
    """Five small questions to nats-server, asked only when a board is computed (once per projection commit
    at most, beside the board's own queries); None when they are not all answered in STREAM_ASK_TIMEOUT."""
    try:
        async with asyncio.timeout(STREAM_ASK_TIMEOUT):
            return await lateness(store, position, now)
    except (TimeoutError, keys.DependencyUnavailable, StoreError):
        return None


async def dead_letters(request: web.Request) -> web.Response:
    """Command: the events workers set aside after repeated failures, the latest first."""
    require_role(request[PRINCIPAL], DEAD_LETTER_ROLES)
    errors: list[FieldError] = []
    _only_known(request.query, _DEAD_LETTER_PARAMS, errors)
    limit = _int(request.query, "limit", 50, 1, MAX_LIMIT, errors)
    if errors:
        raise invalid(errors)
    async with reading(request) as conn:
        items = await queries.dead_letters(conn, limit=limit)
    return json_response({"items": items})


async def public_status(request: web.Request) -> web.Response:
    """Public: the complaint's status in public words, with its public progress notes. No personal data."""
    limiter = request.app.get(ratelimit.LIMITER)
    if limiter is not None:
        limiter.take_status(request)  # a tracking code is short: slow down anyone guessing them
    typed = request.match_info["tracking_code"]
    if len(typed) > 64:
        raise _not_found("complaint", "Tracking codes look like LV-7K3QX9.")
    code = normal_tracking_code(typed)
    async with reading(request) as conn:
        status = await public.public_status(conn, code)
    if status is None:
        status = await _claimed(request, code)
    if status is None:
        raise _not_found(
            "complaint", f"No complaint has tracking code {code}. Codes look like LV-7K3QX9 and hold no 0, O, 1, "
            "I, L or U. Filed a moment ago? Try again in a minute.",
        )  # fmt: skip
    return json_response(status)


async def _claimed(request: web.Request, code: str) -> dict[str, Any] | None:
    """A code handed out before the read models caught up (seconds in a surge): its claim in the stream says
    the complaint is received. None when there is no claim, or NATS cannot say."""
    if not TRACKING_CODE.fullmatch(code):
        return None  # never a subject wildcard or token separator
    try:
        store = request.app[keys.NATS_LINK].store(timeout=STREAM_ASK_TIMEOUT)
        claim = await store.last_message(store.spec.code_subject(code))
    except (keys.DependencyUnavailable, StoreError) as exc:
        # Not "not found": a citizen told that files again. The store cannot say now: 503, try again.
        log.info("tracking_code_claim_unreadable", reason=str(exc))
        raise keys.DependencyUnavailable("NATS", "the complaint may be too new to show yet") from exc
    return None if claim is None else public.just_received(code, claim.time)


async def published_notices(request: web.Request) -> web.Response:
    """Public: notices as last published."""
    errors: list[FieldError] = []
    incident = _uuid(request.query, "incident", errors)
    limit = _int(request.query, "limit", 50, 1, MAX_LIMIT, errors)
    if errors:
        raise invalid(errors)
    async with reading(request) as conn:
        items = await public.published_notices(conn, incident=incident, limit=limit)
    return json_response({"items": items})


async def working_notices(request: web.Request) -> web.Response:
    """Press and command: every notice with its working text and approval state."""
    require_role(request[PRINCIPAL], NOTICE_ROLES)
    async with reading(request) as conn:
        items = await staff_notices(conn)
    return json_response({"items": items})


async def summary(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], REPORT_ROLES)
    q = request.query
    errors: list[FieldError] = []
    incident = _uuid(q, "incident", errors)
    start, end = _datetime(q, "start", errors), _datetime(q, "end", errors)
    fmt = _one_of(q, "format", ("json", "csv"), errors) or "json"
    if errors:
        raise invalid(errors)
    async with reading(request) as conn:
        data = await report.summary_report(conn, incident=incident, start=start, end=end)
    if fmt == "csv":
        name = f"levee-summary-{incident or 'all'}.csv"
        return web.Response(
            text=report.report_csv(data), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )  # fmt: skip
    return json_response(data)


# -- OpenAPI -----------------------------------------------------------------------------------------

_OBJ: dict[str, Any] = {"type": "object"}


_STAMP: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
# What the status page reads: every field is there, null when it does not apply yet.
_PUBLIC_STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["tracking_code", "status", "received_at", "progress", "notices", "reason"],
    "properties": {
        "tracking_code": {"type": "string"},
        "status": {"type": "string", "enum": sorted(set(public.PUBLIC_STATUS.values()))},
        "category": {"type": ["string", "null"]}, "district": {"type": ["string", "null"]},
        "received_at": _STAMP, "accepted_at": _STAMP, "resolved_at": _STAMP, "closed_at": _STAMP,
        "updated_at": _STAMP,
        "progress": {"type": "array", "items": {"type": "object"}},
        "notices": {"type": "array", "items": {"type": "object"}},
        "reason": {"type": ["string", "null"], "description": "Why it was not accepted (status not_accepted)"},
        "expected_by": {**_STAMP, "description": "By when it is expected to be resolved, from the department's "
                                                 "sign-for until it is (its resolve-by, as Open311's "
                                                 "expected_datetime); in the past when overdue"},
    },
}  # fmt: skip


def _op(
    op_id: str,
    summary: str,
    roles: tuple[str, ...] | None,
    *,
    params: list[dict[str, Any]] | None = None,
    result: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (401, 403, 422, 503),
    extra_content: dict[str, Any] | None = None,
    tag: str = "read",
) -> dict[str, Any]:
    role_text = (
        "Public (no token)."
        if roles is None
        else "Roles: " + ", ".join("department:<code>" if r == "department" else r for r in roles) + "."
    )
    content = {"application/json": {"schema": result or _OBJ}, **(extra_content or {})}
    return {"get": {
        "operationId": op_id, "summary": summary, "description": role_text, "tags": [tag],
        "security": [{}] if roles is None else [{"bearer": []}], "parameters": params or [],
        "responses": {"200": {"description": "OK", "content": content}, **problem_responses(*errors)},
    }}  # fmt: skip


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}  # fmt: skip


def _p(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


_LIST_PARAMS = [
    _q("status", "comma-separated statuses"), _q("level", "comma-separated P1..P4"),
    _q("department", f"department code, or {COMMAND_QUEUE} for the command queue"),
    _q("district", "district code"), _q("incident", "incident id", {"type": "string", "format": "uuid"}),
    _q("overdue", "true or false", {"type": "boolean"}),
    _q("escalation_level", "0, 1, 2, or escalated (1 and up)", {"type": "string", "enum": list(_ESCALATION)}),
    _q("extension_pending", "true: a department's extension request waits for command", {"type": "boolean"}),
    _q("tracking_code", "exact code"),
    _q("limit", "page size, 1..200 (50)", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    _q("cursor", "the previous page's next_cursor"),
]  # fmt: skip
_INCIDENT_PARAMS = [
    _q("merged", "true: also the incidents merged into another (each names it: merged_into, merged_into_title)",
       {"type": "boolean"}),
]  # fmt: skip
_QUEUE_PARAMS = [
    _q("limit", f"1..{MAX_QUEUE_LIMIT} ({QUEUE_LIMIT}): the most urgent this many; `total` counts them all",
       {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE_LIMIT}),
]  # fmt: skip
_DEAD_LETTER_PARAMS = [_q("limit", "1..200 (50)", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})]
_PAGE = {"type": "object", "required": ["items"], "properties": {
    "items": {"type": "array", "items": _OBJ}, "next_cursor": {"type": ["string", "null"]}}}  # fmt: skip
OPENAPI_PATHS: dict[str, Any] = {
    f"{API}/me": _op("me", "Who this token stands for (role, name, department)", None, errors=(401,)),
    f"{API}/reference": _op("reference", "Districts (with bounding boxes), categories, departments, levels",
                            None, errors=()),
    f"{API}/complaints": _op(
        "complaints_list", "Complaints, newest first (department staff: their department's only); "
        "an unknown parameter is a 422", CASE_ROLES, params=_LIST_PARAMS, result=_PAGE),
    f"{API}/complaints/{{id}}": _op(
        "complaint_detail", "One complaint with its timeline (department staff: only a case they hold)",
        CASE_ROLES, params=[_p("id", {"type": "string", "format": "uuid"})], errors=(401, 403, 404, 503)),
    f"{API}/departments/{{code}}/queue": _op(
        "department_queue", "A department's cases with deadline countdowns (seconds; negative is overdue); "
        f"`{COMMAND_QUEUE}` is the command queue (command staff only). The most urgent `limit` first; "
        "`total` counts every case the department holds; `lateness` how far it and the workers run behind the "
        "stream, as the board's (null when the event store does not say)",
        QUEUE_ROLES, params=[_p("code"), *_QUEUE_PARAMS], errors=(401, 403, 404, 422, 503)),
    f"{API}/incidents": _op("incidents", "Incidents with live complaint counts (not those merged into another, "
                            "unless merged=true)", INCIDENT_ROLES, params=_INCIDENT_PARAMS,
                            errors=(401, 403, 422, 503)),
    f"{API}/board": _op("board", "The command board: counts, incidents, newest P1, escalated to command, "
                        "extension requests, dead letters, overdue, hotspots, departments, map points",
                        BOARD_ROLES, errors=(401, 403, 503), tag="board"),
    f"{API}/dead-letters": _op("dead_letters", "Events workers set aside after repeated failures, latest first",
                               DEAD_LETTER_ROLES, params=_DEAD_LETTER_PARAMS, tag="board"),
    f"{API}/status/{{tracking_code}}": _op(
        "public_status", "A complaint's public status by tracking code (no personal data)", None,
        params=[_p("tracking_code")], result=_PUBLIC_STATUS, errors=(404, 429, 503), tag="public"),
    f"{API}/notices": _op(
        "notices_published", "Published notices, newest first", None,
        params=[_q("incident", "incident id", {"type": "string", "format": "uuid"}),
                _q("limit", "1..200 (50)", {"type": "integer"})], errors=(422, 503), tag="public"),
    f"{API}/staff/notices": _op("notices_working", "Every notice with its working text and approval state",
                                NOTICE_ROLES, errors=(401, 403, 503), tag="notices"),
    f"{API}/reports/summary": _op(
        "report_summary", "After-action summary (aggregates only); CSV with format=csv", REPORT_ROLES,
        params=[_q("incident", "incident id", {"type": "string", "format": "uuid"}),
                _q("start", "received at or after (ISO 8601)", {"type": "string", "format": "date-time"}),
                _q("end", "received before (ISO 8601)", {"type": "string", "format": "date-time"}),
                _q("format", "json (default) or csv", {"type": "string", "enum": ["json", "csv"]})],
        extra_content={"text/csv": {"schema": {"type": "string"}}}, tag="reports"),
}  # fmt: skip
