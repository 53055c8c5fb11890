"""The hotline operator's console (/operator) and the endpoints its call card uses.

- the guide: the seven steps' phrases, standard answers, dangers to life (reference-data files);
- caller history: the caller's complaints of the last 30 days, found through a keyed hash of the number
  (the number travels in a POST body only: never in a URL, a header, a log line or a read-model column);
- a preview of what the acceptance rules and life-first will say before submitting;
- the current facts for a district and category (incidents, published notices);
- the call itself: the complaint stored with its first-contact resolution or emergency transfer in one save,
  so no worker can dispatch it in between;
- the follow-up queue and the operator report (first-contact answers, satisfaction, handling time).
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from events.complaint import Complaint
from events.complaint_rules import EMERGENCY_SERVICES
from events.personal import caller_key, contact_hash
from services.api import idempotency, intake, keys
from services.api.auth import require_role
from services.api.commands import Field, read_body
from services.api.intake_schema import IntakeRequest, clean_text, parse_intake
from services.api.openapi import json_body, problem_responses
from services.api.operator_commands import OPERATOR_OFFICE, by, check_answer_ref, transfer
from services.api.operator_queries import caller_history, current_facts, follow_up_queue, operator_report
from services.api.operator_reference import acceptance_preview, guide, life_first
from services.api.pages import SECURITY_HEADERS, STATIC
from services.api.principal import PRINCIPAL, Principal
from services.api.problems import FieldError, Problem, invalid
from services.api.read_routes import json_response, reading
from services.api.resources import WRITERS

log = structlog.get_logger(__name__)

API = "/api/v1/operator"
OPERATOR = ("operator",)
STAFF_ON_CALLS = ("operator", "command")
REPORT_ROLES = ("command", "press")
HISTORY_DAYS = 30
COUNTRY_CODE = "86"  # the deployment's: a number is looked up with and without it
MIN_DIGITS = 5
PHONE = Field("phone", max_length=40, description="The caller's number: hashed with the deployment's secret")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/operator", page, name="page.operator")
    r.add_get(f"{API}/guide", get_guide, name="operator.guide")
    r.add_post(f"{API}/caller-history", post_caller_history, name="operator.caller_history")
    r.add_post(f"{API}/preview", post_preview, name="operator.preview")
    r.add_get(f"{API}/facts", get_facts, name="operator.facts")
    r.add_post(f"{API}/calls", post_call, name="operator.calls")
    r.add_get(f"{API}/follow-ups", get_follow_ups, name="operator.follow_ups")
    r.add_get(f"{API}/report", get_report, name="operator.report")


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "operator.html", headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
    )


async def get_guide(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], STAFF_ON_CALLS)
    return json_response(guide().public())


# -- caller history ------------------------------------------------------------------------------------


def _caller_keys(request: web.Request, phone: str) -> list[str]:
    """The read-model keys the number may have been stored under: as written, and with or without the
    country code (a caller says "139..." today and "+86 139..." was typed last week)."""
    secret = request.app[keys.SETTINGS].contact_hash_secret
    if not secret:
        raise Problem(503, "No contact secret", "This deployment has no contact-hash secret configured.",
                      code="no_contact_secret")  # fmt: skip
    phone = unicodedata.normalize("NFKC", phone)  # a Chinese IME's full-width digits: the same number
    digits = re.sub(r"\D", "", phone).removeprefix("00")
    if len(digits) < MIN_DIGITS:
        raise invalid([FieldError("phone", f"must have at least {MIN_DIGITS} digits")])
    national = digits[len(COUNTRY_CODE) :] if digits.startswith(COUNTRY_CODE) and len(digits) > 11 else digits
    forms = {phone, digits, national, COUNTRY_CODE + national}
    return sorted({caller_key(contact_hash(form, secret)) for form in forms})


async def _history(request: web.Request, phone: str) -> list[dict[str, Any]]:
    found = _caller_keys(request, phone)
    async with reading(request) as conn:
        return await caller_history(conn, found, datetime.now(UTC) - timedelta(days=HISTORY_DAYS))


async def post_caller_history(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], OPERATOR)
    body = await read_body(request, (PHONE,))
    items = await _history(request, body["phone"])
    log.info("caller_history_looked_up", complaints=len(items))  # never the number
    return json_response({"days": HISTORY_DAYS, "items": items})


# -- preview and facts ---------------------------------------------------------------------------------

PREVIEW_FIELDS = (
    Field("description", required=False, default="", max_length=4000),
    Field("category", required=False, nullable=True, max_length=64),
    Field("district", required=False, nullable=True, max_length=64),
    Field("phone", required=False, nullable=True, max_length=40),
)


async def post_preview(request: web.Request) -> web.Response:
    """Life first and the acceptance rules, said before the complaint is submitted."""
    require_role(request[PRINCIPAL], STAFF_ON_CALLS)
    body = await read_body(request, PREVIEW_FIELDS)
    ref = request.app[WRITERS].reference
    same = 0
    if body["phone"]:
        history = await _history(request, body["phone"])
        same = sum(1 for h in history if h["open"] and h["category"] == body["category"])
    issues = acceptance_preview(
        ref, description=body["description"], category=body["category"], lat=None, lon=None,
        district=body["district"], open_same_category=same,
    )  # fmt: skip
    return json_response({"life_first": life_first(body["description"]), "acceptance": issues})


async def get_facts(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], STAFF_ON_CALLS)
    district = request.query.get("district") or None
    category = request.query.get("category") or None
    async with reading(request) as conn:
        facts = await current_facts(conn, district=district, category=category)
    facts["answers"] = [a for a in guide().answers if category is None or a["category"] == category]
    return json_response(facts)


# -- the call ------------------------------------------------------------------------------------------

CALL_KEYS = frozenset({"complaint", "first_contact", "transfer"})


async def post_call(request: web.Request) -> web.Response:
    """Store the complaint taken on the call, with what the call settled, in one save."""
    principal = request[PRINCIPAL]
    require_role(principal, OPERATOR)
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    raw = await intake.read_json(request)
    if not isinstance(raw, dict):
        raise invalid([FieldError("", "the body must be a JSON object")])
    errors = [FieldError(name, "unknown field") for name in raw if name not in CALL_KEYS]
    writers = request.app[WRITERS]
    parsed, intake_errors = parse_intake(raw.get("complaint"), writers.reference)
    errors += [FieldError(f"complaint.{e.field}".rstrip("."), e.message) for e in intake_errors]
    first = _part(raw, "first_contact", ("answer_ref", "summary"), errors)
    moved = _part(raw, "transfer", ("service", "reason"), errors)
    if moved is not None and moved["service"] not in EMERGENCY_SERVICES:
        errors.append(FieldError("transfer.service", f"must be one of {', '.join(EMERGENCY_SERVICES)}"))
    if errors or parsed is None:
        raise invalid(errors)
    # Life first is said on the card before submitting (POST /operator/preview) and in the answer; it is not a
    # refusal here: its reading knows negation only, so "what number do I call if the lift traps someone?" would
    # be refused (found by a review of the change that refused it).
    danger = life_first(parsed.description)
    if first is not None:
        await check_answer_ref(request, first["answer_ref"])
    complaint_id, code, replay = await _store_call(writers, parsed, principal, key, first, moved)
    log.info("call_stored", complaint_id=str(complaint_id), first_contact=first is not None,
             transfer=moved["service"] if moved else None, replay=replay)  # fmt: skip
    # A replay had the same complaint, transfer and answer (they are in its fingerprint): this is what it stored.
    body = {
        "id": str(complaint_id), "tracking_code": code,
        "status": "resolved" if first is not None else "received",
        "life_first": danger, "transferred_to": moved["service"] if moved else None,
    }  # fmt: skip
    headers = {"Location": f"/api/v1/complaints/{complaint_id}"}
    if replay:
        headers[idempotency.REPLAYED] = "true"
    return json_response(body, status=201, headers=headers)


def _part(
    raw: dict[str, Any], name: str, fields: tuple[str, ...], errors: list[FieldError]
) -> dict[str, str] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != set(fields):
        errors.append(FieldError(name, f"must be an object with exactly {', '.join(fields)}"))
        return None
    found: dict[str, str] = {}
    for f in fields:
        # As every text a person types: NFC, no control character or lone surrogate, something visible.
        cleaned = clean_text(value[f]) if isinstance(value[f], str) else None
        if cleaned is None or not cleaned or len(cleaned) > 4000:
            errors.append(FieldError(f"{name}.{f}", "must be a non-blank string of at most 4000 characters, "
                                     "without control characters"))  # fmt: skip
        else:
            found[f] = cleaned
    return found if len(found) == len(fields) else None  # each wrong one is in `errors`


async def _store_call(
    writers: Any, parsed: IntakeRequest, principal: Principal, key: str | None,
    first: dict[str, str] | None, moved: dict[str, str] | None,
) -> tuple[uuid.UUID, str, bool]:  # fmt: skip
    def settle(complaint: Complaint) -> None:
        # Life first: the transfer comes before anything else the call settled.
        if moved is not None:
            transfer(complaint, moved["service"], moved["reason"], by(principal))
        if first is not None:
            complaint.resolve(OPERATOR_OFFICE, first["summary"], "first_contact", first["answer_ref"],
                              reference=writers.reference)  # fmt: skip

    # Plain calls keep the plain complaint's fingerprint: keys stored before stay comparable.
    settles = None if first is None and moved is None else json.dumps([first, moved], sort_keys=True)
    return await intake.store(writers, parsed, principal, key, shape=settle, settles=settles)


# -- follow-ups and the report -------------------------------------------------------------------------


async def get_follow_ups(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], OPERATOR)
    async with reading(request) as conn:
        items = await follow_up_queue(conn, max_attempts=guide().max_follow_up_attempts)
    return json_response({"items": items})


async def get_report(request: web.Request) -> web.Response:
    require_role(request[PRINCIPAL], REPORT_ROLES)
    async with reading(request) as conn:
        return json_response(await operator_report(conn))


# -- OpenAPI -------------------------------------------------------------------------------------------

_OBJ: dict[str, Any] = {"type": "object"}


def _op(
    op_id: str,
    summary: str,
    roles: tuple[str, ...],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    created: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id, "summary": summary, "tags": ["operator"], "security": [{"bearer": []}],
        "description": f"Roles: {', '.join(roles)}.", "parameters": params or [],
        "responses": {"201" if created else "200": {"description": "OK", "content": {"application/json": {
            "schema": _OBJ}}}, **problem_responses(400, 401, 403, 409, 415, 422, 503)},
    }  # fmt: skip
    if body is not None:
        op["requestBody"] = json_body(body)
    return op


def _fields_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {f.name: f.schema() for f in fields},
            "required": [f.name for f in fields if f.required]}  # fmt: skip


_PART = {"type": "object", "additionalProperties": False}
CALL_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["complaint"],
    "properties": {
        "complaint": intake.INTAKE_SCHEMA,
        "first_contact": {**_PART, "required": ["answer_ref", "summary"], "properties": {
            "answer_ref": {"type": "string", "description": "notice:<id> (published) or answer:<code>"},
            "summary": {"type": "string"}}},
        "transfer": {**_PART, "required": ["service", "reason"], "properties": {
            "service": {"enum": list(EMERGENCY_SERVICES)}, "reason": {"type": "string"}}},
    },
}  # fmt: skip
_QUERY = [
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
    for n in ("district", "category")
]
OPENAPI_PATHS: dict[str, Any] = {
    "/operator": {"get": {
        "operationId": "page_operator", "summary": "The hotline operator's console", "tags": ["pages"],
        "security": [{}], "responses": {"200": {"description": "HTML page", "content": {"text/html": {
            "schema": {"type": "string"}}}}}}},
    f"{API}/guide": {"get": _op("operator_guide", "Phrases, standard answers and dangers for the call card",
                                STAFF_ON_CALLS)},
    f"{API}/caller-history": {"post": _op("operator_caller_history", "The caller's complaints of the last 30 days",
                                          OPERATOR, body=_fields_schema((PHONE,)))},
    f"{API}/preview": {"post": _op("operator_preview", "What life-first and the acceptance rules will say",
                                   STAFF_ON_CALLS, body=_fields_schema(PREVIEW_FIELDS))},
    f"{API}/facts": {"get": _op("operator_facts", "Active incidents, published notices and standard answers",
                                STAFF_ON_CALLS, params=_QUERY)},
    f"{API}/calls": {"post": _op("operator_call", "Store a call's complaint with its first-contact resolution or "
                                 "emergency transfer", OPERATOR, body=CALL_SCHEMA, created=True)},
    f"{API}/follow-ups": {"get": _op("operator_follow_ups", "Resolved complaints waiting for a follow-up call",
                                     OPERATOR)},
    f"{API}/report": {"get": _op("operator_report", "First-contact answers, satisfaction, reopenings, handling "
                                 "time", REPORT_ROLES)},
}  # fmt: skip
