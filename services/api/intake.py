"""POST /api/v1/complaints: a complaint is received when its ComplaintReceived event is durably stored.

Order matters for personal data: the complaint's key is committed to PostgreSQL before the event that
needs it is appended, so an event whose reporter cannot be decrypted never exists. The reverse (a key
with no event, when NATS fails in between) is harmless garbage.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import Counter

from events.complaint import Complaint, new_tracking_code
from events.personal import PersonalData, contact_hash, new_key, seal
from events.publishing.redaction import mask
from events.store import ConcurrencyConflict, StoreError, StoreFull, StoreUnavailable, WriteUnconfirmed
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.group_commit import Backlogged
from events.store.records import Write
from events.store.stream import StreamSpec
from services.api import idempotency, keys, ratelimit, strict_json
from services.api.intake_schema import PUBLIC_CHANNELS, IntakeRequest, parse_intake
from services.api.openapi import json_body, problem_responses
from services.api.operator_reference import life_first
from services.api.principal import PRINCIPAL, PUBLIC, Principal
from services.api.problems import FieldError, Problem, invalid, store_full, write_unconfirmed
from services.api.resources import WRITERS, Writers
from services.runtime.metrics import COMPLAINTS_RECEIVED

log = structlog.get_logger(__name__)

OPERATOR_ROLES = frozenset({"operator", "command"})
# Draws of a tracking code before giving up: with a million codes claimed, five taken in a row is one
# chance in about 10^14.
CODE_DRAWS = 5


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/complaints", create_complaint, name="complaints.create")


async def create_complaint(request: web.Request) -> web.Response:
    request.app[ratelimit.LIMITER].take(request)
    principal = request.get(PRINCIPAL, PUBLIC)
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    writers = request.app[WRITERS]
    intake, errors = parse_intake(await read_json(request), writers.reference)
    if errors or intake is None:
        raise invalid(errors)
    check_allowed(intake, principal)
    complaint_id, tracking_code, replay = await store(writers, intake, principal, key)
    log_received(request, complaint_id, intake.channel, replay=replay)
    return answer(complaint_id, tracking_code, replay=replay, danger=life_first(intake.description))


async def store(
    writers: Writers,
    intake: IntakeRequest,
    principal: Principal,
    key: str | None,
    *,
    shape: Callable[[Complaint], None] | None = None,
    settles: str | None = None,
    keys_taken: bool = True,
) -> tuple[uuid.UUID, str, bool]:
    """Store the complaint durably: (id, tracking code, whether an earlier try with this key had stored it).

    The complaint's first events go in one atomic batch with the claim of its tracking code, a subject that
    must be empty: two complaints can never show the same code. `shape` applies what else the request
    settled (an operator's first-contact answer) before the save; `settles` says what, canonically, so that
    the same Idempotency-Key with something else settled is refused, not answered as if it was.
    `keys_taken`: whether the caller's protocol has an Idempotency-Key to advise (Open311 has none).
    """
    complaint_id, tracking_code, personal_key = await prepare(writers, intake, principal, key, settles)
    for _ in range(CODE_DRAWS):
        complaint = await receive(writers, intake, principal, complaint_id, tracking_code, personal_key)
        if shape is not None:
            shape(complaint)
        try:
            aggregates = await writers.aggregates()
            await aggregates.save(
                complaint, extra=[claim(aggregates.store.spec, tracking_code, complaint_id)]
            )
        except keys.DependencyUnavailable as exc:
            raise unavailable(f"the event store is unreachable ({exc.detail})", "NATS") from None
        except StoreFull as exc:
            raise store_full(exc) from None
        except WriteUnconfirmed as exc:
            raise unconfirmed(exc, keyed=key is not None, keys_taken=keys_taken, code=tracking_code) from None
        except Backlogged as exc:  # refused before it was sent: nothing was stored
            raise unavailable(str(exc), "NATS") from None
        except StoreUnavailable as exc:
            raise unavailable(f"the event store did not confirm the write: {exc}", "NATS") from None
        except ConcurrencyConflict:
            stored_code = await stored_code_of(aggregates, complaint_id) if key is not None else None
            if stored_code is not None:
                # The id is derived from the key: an earlier try stored it. Its code is the one in the stream
                # (the idempotency row may have been lost, e.g. PostgreSQL restored from a backup).
                return complaint_id, stored_code, True
            tracking_code = await redraw(writers, principal, key, tracking_code)
            continue
        _received(intake.channel).inc()
        return complaint_id, tracking_code, False
    raise unavailable(f"no free tracking code in {CODE_DRAWS} draws")


def claim(spec: StreamSpec, tracking_code: str, complaint_id: uuid.UUID) -> Write:
    """The tracking code's claim: its subject must be empty, and holds the complaint's id."""
    return Write(spec.code_subject(tracking_code), str(complaint_id).encode(), expected_last_seq=0)


async def stored_code_of(aggregates: AggregateStore, complaint_id: uuid.UUID) -> str | None:
    """The tracking code of the complaint an earlier try stored, or None if none was stored."""
    try:
        return (await aggregates.get(complaint_id, Complaint)).tracking_code
    except AggregateNotFound:
        return None
    except StoreError as exc:
        raise unavailable(f"the event store did not answer: {exc}", "NATS") from None


async def redraw(writers: Writers, principal: Principal, key: str | None, taken: str) -> str:
    """A new code after `taken` turned out claimed by another complaint: one draw in about 7,000 once
    a hundred thousand codes are out (there are 30^6)."""
    # Expected, and handled here: not a warning (a soak's only warnings, ~5 in 90,000 complaints, growing with the
    # square of the count), and never the code, which opens another caller's status (as paths are masked).
    log.info("tracking_code_redrawn")
    if key is None:
        return new_tracking_code()
    try:  # the claim row hands a retry the same code: it must hold the new one
        return await writers.requests.redraw(idempotency.scope(principal, key), taken, new_tracking_code())
    except keys.PG_DOWN as exc:
        raise unavailable(keys.pg_trouble(exc), "PostgreSQL") from None


def log_received(request: web.Request, complaint_id: uuid.UUID, channel: str, *, replay: bool) -> None:
    """The complaint goes on the request's one log line: at info, a line of its own costs about 35 µs."""
    request[keys.LOG_FIELDS] = {"complaint_id": str(complaint_id), "channel": channel, "replay": replay}


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise Problem(
            415, "Unsupported media type", f"send application/json, not {request.content_type or 'nothing'}",
            code="unsupported_media_type", headers={"Accept-Post": "application/json"},
        )  # fmt: skip
    raw = await request.read()  # read already, within its deadline and size (slow_clients.py)
    try:
        return strict_json.loads(raw)
    except strict_json.NotJson as exc:
        raise malformed(str(exc)) from None


def malformed(where: str) -> Problem:
    return Problem(400, "Malformed JSON", f"The body is not valid JSON: {where}", code="malformed_json")


def check_allowed(intake: IntakeRequest, principal: Principal) -> None:
    """Operators and command record any channel; the public and department staff file through web or app
    (hotline, walk-in and social-media complaints are recorded by the intake desk, on the caller's behalf);
    the press never touches complaints (DOMAIN.md: aggregates and published text only), so it files none."""
    if principal.role in OPERATOR_ROLES:
        return
    if principal.kind == "press":
        raise Problem(
            403, "Not allowed for this role",
            "Press tokens file no complaints: a press officer with one files it as the public (no token).",
            code="role_not_allowed",
        )  # fmt: skip
    refused = [
        FieldError(f, "only hotline operators and command staff may set this") for f in intake.operator_fields
    ]
    if intake.channel not in PUBLIC_CHANNELS:
        who = "the public" if principal.is_public else f"{principal.kind} staff"
        refused.append(FieldError("channel", f"{who} files through " + " or ".join(PUBLIC_CHANNELS)))
    if refused:
        raise Problem(
            403, "Not allowed for this role", "; ".join(f"{e.field}: {e.message}" for e in refused),
            code="forbidden_field", errors=refused,
        )  # fmt: skip


async def prepare(
    writers: Writers, intake: IntakeRequest, principal: Principal, key: str | None, settles: str | None = None
) -> tuple[uuid.UUID, str, bytes | None]:
    """(complaint id, tracking code, personal-data key), with the idempotency row written if there is a key.
    Whether an earlier try already stored the complaint is the stream's to say (`store`), not the row's: a row
    can outlive a failed append, or be lost. With a key and a reporter, the claim also stores the complaint's
    personal-data key (one round trip); without an Idempotency-Key the key is put when sealing."""
    if key is None:  # nothing to claim: a complaint with neither a key nor personal data needs no PostgreSQL
        return uuid.uuid4(), new_tracking_code(), None
    try:
        writers.pg_gate.check()
        await writers.tables()
        claim = await writers.requests.claim(
            idempotency.scope(principal, key), intake.fingerprint(settles), new_tracking_code(),
            personal_key=new_key() if intake.has_personal_data else None,
        )  # fmt: skip
    except keys.PG_DOWN as exc:
        writers.pg_gate.note(exc)
        raise unavailable(keys.pg_trouble(exc), "PostgreSQL") from None
    writers.pg_gate.opened()
    if intake.has_personal_data and claim.personal_key is None:
        raise erased()
    return claim.complaint_id, claim.tracking_code, claim.personal_key


async def receive(
    writers: Writers,
    intake: IntakeRequest,
    principal: Principal,
    complaint_id: uuid.UUID,
    tracking_code: str,
    personal_key: bytes | None = None,
) -> Complaint:
    sealed = None
    if intake.has_personal_data:
        sealed = await seal_personal(writers, intake, complaint_id, personal_key)
    reporter = intake.reporter
    contact = reporter and (reporter.phone or reporter.email)
    return Complaint.receive(
        channel=intake.channel, description=intake.description, received_by=received_by(principal),
        category=intake.category, lat=intake.lat, lon=intake.lon, district=intake.district,
        people_affected=intake.people_affected, vulnerable=list(intake.vulnerable),
        media_exposure=bool(intake.media_exposure), reporter_sealed=sealed,
        contact_hash=contact_hash(contact, writers.contact_secret) if contact and writers.contact_secret else None,
        call_started_at=intake.call_started_at, tracking_code=tracking_code, reference=writers.reference,
        public_description=public_description(intake), complaint_id=complaint_id,
    )  # fmt: skip


@functools.cache  # a few channels: `labels()` takes a lock and checks its arguments on every call
def _received(channel: str) -> Counter:
    return COMPLAINTS_RECEIVED.labels(channel)


def public_description(intake: IntakeRequest) -> str:
    """The description as the public may see it: phones, ID numbers, emails, and the reporter's own name, address
    and phone (in any form it is dialled: "6987 4321" has no phone's shape alone) masked. Only here are they in
    clear; the event keeps them sealed, so no later step could do this."""
    reporter = intake.reporter
    known = [reporter.name if reporter else None, intake.address, reporter.phone if reporter else None]
    return mask(intake.description, [k for k in known if k])


async def seal_personal(
    writers: Writers, intake: IntakeRequest, complaint_id: uuid.UUID, key: bytes | None = None
) -> str:
    """Seal with the complaint's key: `key` (stored with the idempotency claim), else a new one put now, or
    the one an earlier try with the same id stored."""
    reporter = intake.reporter
    data = PersonalData(
        name=reporter.name if reporter else None, phone=reporter.phone if reporter else None,
        email=reporter.email if reporter else None, address=intake.address,
    )  # fmt: skip
    if key is None:
        try:
            writers.pg_gate.check()
            await writers.tables()
            # The key the complaint has: this fresh one, or (an idempotent retry, or a racing twin) the first.
            key = await writers.key_store.put(complaint_id, new_key())
        except keys.PG_DOWN as exc:
            writers.pg_gate.note(exc)
            raise unavailable(keys.pg_trouble(exc), "PostgreSQL") from None
        writers.pg_gate.opened()
        if key is None:
            raise erased()
    return seal(data, key)


def erased() -> Problem:
    return Problem(409, "Personal data erased", "this complaint's personal data was erased", code="erased")


def received_by(principal: Principal) -> str:
    return principal.role if principal.is_public else f"{principal.role}:{principal.name}"


def unavailable(detail: str, dependency: str | None = None) -> Problem:
    """503, nothing stored; `dependency` ("NATS", "PostgreSQL") names what is down, as staff commands' 503s do,
    so that the operator's console can say which (found by a review: it said only "unavailable")."""
    problem = Problem(
        503, "Service unavailable", f"Nothing was stored: {detail}. Try again.", code="unavailable"
    )
    if dependency is not None:
        problem.extensions["dependency"] = dependency
    return problem


def unconfirmed(exc: WriteUnconfirmed, *, keyed: bool, keys_taken: bool, code: str | None = None) -> Problem:
    """503 for a write NATS never answered and that could not be read back whole: it may yet be stored. With the
    tracking code it would have (claimed in the same write): a citizen can look it up before filing again."""
    if keyed:
        advice = (
            "To find out, send the request again with the same Idempotency-Key: a complaint this try stored "
            "is answered, not filed twice."
        )
    else:
        advice = "A retry may file it twice" + (
            " (an Idempotency-Key makes retries safe)." if keys_taken else "."
        )
    problem = write_unconfirmed(exc, "The complaint", advice)
    if code is not None:
        problem.extensions.update(tracking_code=code, links={"status": f"/api/v1/status/{code}",
                                                             "public_status": f"/status/{code}"})  # fmt: skip
        # The code in the body's fields only, not the detail: a 5xx's detail goes to the log, and a code opens a
        # complaint's status.
        problem.detail += " Look up its tracking_code in a minute before filing again: found, it is stored."
    return problem


def answer(
    complaint_id: uuid.UUID, tracking_code: str, *, replay: bool, danger: dict[str, Any] | None = None
) -> web.Response:
    self_url = f"/api/v1/complaints/{complaint_id}"
    body = {
        "id": str(complaint_id),
        "tracking_code": tracking_code,
        "status": "received",
        "links": {
            "self": self_url,  # staff read the complaint here
            "status": f"/api/v1/status/{tracking_code}",  # anyone, no personal data: JSON
            "public_status": f"/status/{tracking_code}",  # the page to give the caller
        },
        # Life first: null, or the emergency services (110/119/120) to call now, and why.
        "life_first": danger,
        # What a web form shows the resident, in both languages (a review of the public pages found a 201 that
        # said nothing a person could read unless there was a danger to life).
        "message_zh": f"已收到您的诉求。查询编号 {tracking_code}，请保存，可随时查看办理进展。",
        "message_en": f"Received. Your tracking code is {tracking_code}: keep it to follow your complaint.",
    }
    headers = {"Location": self_url, "Cache-Control": "no-store"}
    if replay:
        headers[idempotency.REPLAYED] = "true"
    return web.json_response(body, status=201, headers=headers)


_TEXT = {"type": "string", "minLength": 1}
INTAKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["channel", "description"],
    "properties": {
        "channel": {"type": "string", "enum": ["hotline", "web", "app", "social_media", "walk_in"],
                    "description": "The public may use web or app only."},
        "description": {**_TEXT, "maxLength": 4000, "description": "Chinese or English; NFC-normalised, trimmed."},
        "category": {"type": ["string", "null"], "description": "A category code (see Open311 services.json)."},
        "location": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "district": {"type": "string"},
                "address": {**_TEXT, "maxLength": 500, "description": "Personal data: sealed, never in clear."},
            },
        },
        "people_affected": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
        "vulnerable": {"type": "array", "uniqueItems": True,
                       "items": {"type": "string", "enum": ["elderly", "disabled", "infant", "pregnant", "patient"]}},
        "reporter": {
            "type": "object", "additionalProperties": False, "description": "Personal data: sealed, never in clear.",
            "properties": {"name": {**_TEXT, "maxLength": 200}, "phone": {**_TEXT, "maxLength": 40},
                           "email": {**_TEXT, "maxLength": 254, "format": "email"}},
        },
        "media_exposure": {"type": "boolean", "description": "Operators and command staff only (403 otherwise)."},
        "call_started_at": {"type": "string", "format": "date-time", "description": "Operators only."},
    },
}  # fmt: skip
RECEIVED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "tracking_code", "status", "links"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "tracking_code": {"type": "string", "pattern": "^LV-[0-9A-Z]{6}$"},
        "status": {"const": "received"},
        "life_first": {"type": ["object", "null"], "description": "A danger to life was described: call "
                       "services[] (110/119/120) first; message_en/message_zh say so."},
        "message_zh": {"type": "string", "description": "What to tell the resident, in Chinese: received, and "
                       "the tracking code to keep."},
        "message_en": {"type": "string", "description": "The same in English."},
        "links": {"type": "object", "required": ["self", "status", "public_status"], "properties": {
            "self": {"type": "string", "description": "The complaint, for staff (GET /api/v1/complaints/{id})."},
            "status": {"type": "string", "description": "Its public status as JSON, for anyone; 'received' "
                       "from the moment of this answer (GET /api/v1/status/{tracking_code})."},
            "public_status": {"type": "string", "description": "The public status page to give the caller."}}},
    },
}  # fmt: skip
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/complaints": {
        "post": {
            "operationId": "createComplaint",
            "summary": "Receive a complaint (stored durably before the answer)",
            "tags": ["intake"],
            "security": [{}, {"bearer": []}],
            "parameters": [{
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{8,255}$"},
                "description": "Same key and body: same answer, no second complaint. Another body: 422.",
            }],
            "requestBody": json_body(INTAKE_SCHEMA),
            "responses": {
                "201": {
                    "description": "Received and durably stored",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": RECEIVED_SCHEMA}},
                },
                **problem_responses(400, 403, 409, 413, 415, 422, 429, 503),
            },
        }
    }
}  # fmt: skip
