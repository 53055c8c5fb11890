"""Open311 GeoReport v2 at /open311/v2/: discovery, services, creating service requests and tokens.

Follows the spec's names, its two formats (each resource as .xml and .json, open311_format.py) and its error
format (an array of `{code, description}` with the HTTP status), not problem+json, because Open311 clients
parse that array. A request is stored before the answer, so POST requests always answers with a
`service_request_id`; the token it would otherwise give is that same id, and `tokens/{token}` finds it in the
stream.

`api_key` is required: a key in `app[API_KEYS]` (LEVEE_OPEN311_API_KEYS, issued to Open311 integrators; files
as the public, rate-limited per key) or any valid staff token (files as that staff member, limited as staff).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import structlog
from aiohttp import web
from eventsourcing.utils import TopicError, resolve_topic

from events.complaint import Complaint
from events.reference import Category
from events.store import StoreUnavailable
from events.store.aggregates import TOPIC
from services.api import auth, intake, keys, ratelimit
from services.api.intake_schema import parse_intake
from services.api.open311_format import (
    BASE,
    XML_TYPE,
    Answer,
    AnswerHandler,
    Open311Error,
    add_both,
    described_both,
    error_responses,
)
from services.api.open311_format import spec_errors as spec_errors
from services.api.operator_reference import life_first
from services.api.principal import PRINCIPAL, PUBLIC, Principal
from services.api.problems import ERRORS_LISTED, Problem
from services.api.resources import WRITERS

API_KEYS = web.AppKey("open311_api_keys", frozenset[str])
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FIELDS = frozenset(
    {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
     "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url"}
)  # fmt: skip
_ATTRIBUTE = re.compile(r"^attribute\[[^\]]+\](\[\])?$")
# Our field names (intake_schema) -> the spec's, so errors name what the client sent.
_SPEC_NAMES = {"location.lat": "lat", "location.lon": "long", "location.address": "address_string",
               "reporter.phone": "phone", "reporter.email": "email",
               "reporter.name": "first_name/last_name"}  # fmt: skip  # the two make one name
# The discovery document's changeset: when this endpoint's routes or fields last changed. Bump it with them.
CHANGESET = "2026-12-07T00:00:00Z"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


def add_routes(app: web.Application) -> None:
    for method, name, handler, route_name in ROUTES:
        add_both(app, method, f"{BASE}/{name}", handler, route_name)


def _check_jurisdiction(request: web.Request, value: str | None) -> None:
    area = request.app[WRITERS].reference.area.code
    if value not in (None, "", area):
        raise Open311Error(404, f"jurisdiction_id not found: this endpoint serves {area!r}")


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.service_code,
        "service_name": category.name_en,
        "description": category.description,
        "metadata": False,
        "type": "realtime",
        "keywords": f"{category.code}, {category.name_zh}",
        "group": category.group,
    }


async def discovery(request: web.Request) -> Answer:
    reference = request.app[WRITERS].reference
    area = reference.area
    origin = request.app[keys.SETTINGS].public_url or str(request.url.origin())
    return Answer("discovery", {
        "changeset": CHANGESET,
        "contact": f"{area.name_en} ({area.name_zh}) hotline office, which runs this endpoint"
                   + (f": hotline {reference.public_numbers[0]}" if reference.public_numbers else ""),
        "key_service": "The hotline office issues an api_key to each Open311 integrator; staff may send their "
                       "own Levee token as api_key.",
        "endpoints": [{"specification": SPECIFICATION, "url": origin + BASE, "changeset": CHANGESET,
                       "type": "production", "formats": [XML_TYPE, "application/json"]}],
    })  # fmt: skip


async def services(request: web.Request) -> Answer:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    return Answer("services", [_service(c) for c in request.app[WRITERS].reference.categories])


async def service_definition(request: web.Request) -> Answer:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    code = request.match_info["service_code"]
    if not any(c.service_code == code for c in request.app[WRITERS].reference.categories):
        raise Open311Error(404, f"service_code {code!r} not found")
    return Answer("service_definition", {"service_code": code, "attributes": []})


async def create_request(request: web.Request) -> Answer:
    limiter = request.app[ratelimit.LIMITER]
    if request.content_type not in FORM_TYPES:
        limiter.take(request)
        raise Open311Error(
            415, f"send the request form-encoded ({FORM_TYPES[0]}), not {request.content_type}"
        )
    # Read and parsed before this handler (slow_clients.py), where a form too large or malformed is refused.
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    principal = await _admit(request, form.get("api_key"))
    repeated = sorted({k for k in posted if len(posted.getall(k)) > 1 and not _ATTRIBUTE.match(k)})
    if repeated:  # which one would count? Neither: the client says again, once
        raise Open311Error(400, "given more than once: " + ", ".join(repeated))
    _check_jurisdiction(request, form.get("jurisdiction_id"))
    if files := sorted({k for k, v in posted.items() if not isinstance(v, str)}):
        # A media file would otherwise vanish unsaid (found by a review): the spec has a link for it.
        raise Open311Error(400, f"{', '.join(files)}: files are not accepted here; send a link as media_url")
    unknown = sorted(k for k in form if k not in FIELDS and not _ATTRIBUTE.match(k))
    if unknown:
        raise Open311Error(400, "unknown field(s): " + ", ".join(unknown))
    writers = request.app[WRITERS]
    body = _intake_body(form, writers.reference.categories)
    parsed, errors = parse_intake(body, writers.reference)
    if errors or parsed is None:
        said = [f"{_SPEC_NAMES.get(e.field, e.field)}: {e.message}" for e in errors[:ERRORS_LISTED]]
        raise Open311Error(400, said[0], more=said[1:])
    intake.check_allowed(parsed, principal)  # channel "web" until here: the press files no complaints
    parsed = dataclasses.replace(parsed, channel="open311")
    complaint_id, tracking_code, replay = await intake.store(
        writers, parsed, principal, None, keys_taken=False
    )
    intake.log_received(request, complaint_id, parsed.channel, replay=replay)
    # Chinese first, as on every public page: the citizen an Open311 app serves reads it, the danger most of all.
    notice = (
        f"已受理，查询编号 {tracking_code}，致电热线时请报此编号。 "
        f"Received. Your tracking code is {tracking_code}; quote it when you call the hotline."
    )
    danger = life_first(parsed.description)
    if danger is not None:
        notice = f"{danger['message_zh']} {danger['message_en']} {notice}"
    answer = [{"service_request_id": str(complaint_id), "service_notice": notice, "account_id": None}]
    return Answer("service_requests", answer, status=201)


async def _admit(request: web.Request, api_key: str | None) -> Principal:
    """Who files, charged to the right bucket once that is known (the key is in the body, so the body is read
    first; it is at most MAX_BODY). A staff token is limited as staff intake is, and logged as its role; a
    published api_key has one bucket per key; no valid key spends the caller's address bucket before its 403,
    so a flood of made-up keys is throttled like any anonymous flood."""
    limiter = request.app[ratelimit.LIMITER]
    try:
        principal = await _authenticate(request, api_key)
    except Open311Error:
        limiter.take(request)
        raise
    if principal.is_public:
        assert api_key is not None  # a published key: _authenticate refuses a missing one
        limiter.take_open311_key(api_key)
        return principal
    request[PRINCIPAL] = principal  # the request's log line and the limiter see the staff member
    structlog.contextvars.bind_contextvars(role=principal.role, token_id=principal.token_id)  # reset by auth
    limiter.take(request)
    return principal


async def _authenticate(request: web.Request, api_key: str | None) -> Principal:
    if not api_key:
        raise Open311Error(403, "api_key was not provided")
    if api_key in request.app.get(API_KEYS, frozenset()):
        return PUBLIC
    try:
        principal = await request.app[auth.TOKENS].lookup(api_key) if auth.TOKENS in request.app else None
    except keys.PG_DOWN as exc:
        raise Open311Error(
            503, f"cannot check the api_key: {type(exc).__name__}", {"Retry-After": "5"}
        ) from None
    if principal is None:
        raise Open311Error(403, "api_key is not valid")
    return principal


def _intake_body(form: dict[str, str], categories: tuple[Category, ...]) -> dict[str, Any]:
    code = form.get("service_code")
    if not code:
        raise Open311Error(400, "service_code was not provided")
    category = next((c.code for c in categories if c.service_code == code), None)
    if category is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    if form.get("address_id"):
        # The spec's address_id is an id in the city's own address system. This deployment has none to look
        # it up in: accepted, it would be a complaint no one can find, so the integrator hears it at once.
        raise Open311Error(400, "address_id: not served here (no address system to look it up in); "
                           "send lat and long, or address_string, instead")  # fmt: skip
    lat, lon, address = form.get("lat"), form.get("long"), form.get("address_string")
    if bool(lat) != bool(lon):
        raise Open311Error(400, f"{'long' if lat else 'lat'} was not provided: give both lat and long")
    if not ((lat and lon) or address):
        raise Open311Error(400, "lat/long or address_string was not provided")
    if not form.get("description"):
        raise Open311Error(400, "description was not provided: say what happened")
    media = form.get("media_url")
    if media and not re.match(r"^https?://\S{1,2000}$", media):
        raise Open311Error(400, "media_url: an http(s) URL")
    location: dict[str, Any] = {"address": address} if address else {}
    if lat and lon:
        location.update(lat=_number(lat, "lat"), lon=_number(lon, "long"))
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    reporter = {
        k: v for k, v in (("name", name), ("phone", form.get("phone")), ("email", form.get("email"))) if v
    }
    return {
        "channel": "web",  # replaced by "open311" once checked: the JSON intake does not offer it
        "description": form["description"],
        "category": category,
        **({"location": location} if location else {}),
        **({"reporter": reporter} if reporter else {}),
    }


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise Open311Error(400, f"{name}: not a number (WGS84 degrees)") from None


async def token_lookup(request: web.Request) -> Answer:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    token = request.match_info["token"]
    try:
        complaint_id = uuid.UUID(token)
    except ValueError:
        raise Open311Error(404, "token not found") from None
    try:
        store = request.app[keys.NATS_LINK].store(timeout=2.0)
        found = await store.last_message(store.spec.event_subject(complaint_id))
    except StoreUnavailable as exc:
        raise Problem(503, "Service unavailable", f"the event store did not answer ({exc})") from None
    # Only a complaint's id is a token: an incident's or a notice's is stored on a subject of the same shape.
    # Every event of a complaint is one of Complaint's, so its newest one says so in the read it costs anyway.
    if found is None or not _is_complaint_event(found.headers.get(TOPIC)):
        raise Open311Error(404, "token not found")
    return Answer("service_requests", [{"service_request_id": str(complaint_id), "token": token}])


def _is_complaint_event(topic: str | None) -> bool:
    try:
        return topic is not None and issubclass(resolve_topic(topic), Complaint.Event)
    except (TopicError, TypeError):
        return False


ROUTES: tuple[tuple[str, str, AnswerHandler, str], ...] = (
    ("GET", "discovery", discovery, "open311.discovery"),
    ("GET", "services", services, "open311.services"),
    ("GET", "services/{service_code}", service_definition, "open311.service"),
    ("POST", "requests", create_request, "open311.requests.create"),
    ("GET", "tokens/{token}", token_lookup, "open311.token"),
)
_JURISDICTION = {"name": "jurisdiction_id", "in": "query", "required": False, "schema": {"type": "string"}}
_SERVICE = {"type": "object", "required": ["service_code", "service_name", "metadata", "type"], "properties": {
    "service_code": {"type": "string"}, "service_name": {"type": "string"}, "description": {"type": "string"},
    "metadata": {"type": "boolean"}, "type": {"type": "string"}, "keywords": {"type": "string"},
    "group": {"type": "string"}}}  # fmt: skip
_DISCOVERY = {"type": "object", "required": ["changeset", "endpoints"], "properties": {
    "changeset": {"type": "string"}, "contact": {"type": "string"}, "key_service": {"type": "string"},
    "endpoints": {"type": "array", "items": {"type": "object", "required": ["specification", "url", "type"],
        "properties": {"specification": {"type": "string"}, "url": {"type": "string"},
                       "changeset": {"type": "string"}, "type": {"type": "string", "enum": ["production", "test"]},
                       "formats": {"type": "array", "items": {"type": "string"}}}}}}}  # fmt: skip
_FORM_PROPERTIES = {name: {"type": "string"} for name in sorted(FIELDS)}
OPENAPI_PATHS: dict[str, Any] = {
    **described_both(f"{BASE}/discovery", "get", {
        "operationId": "open311Discovery", "summary": "Service discovery (GeoReport v2)", "tags": ["open311"],
        "security": [{}],
        "responses": {"200": {"description": "Where and how this endpoint is served", "content": {
            "application/json": {"schema": _DISCOVERY}}}},
    }),
    **described_both(f"{BASE}/services", "get", {
        "operationId": "open311Services", "summary": "Service list (GeoReport v2)", "tags": ["open311"],
        "security": [{}], "parameters": [_JURISDICTION],
        "responses": {"200": {"description": "Services", "content": {"application/json": {"schema": {
            "type": "array", "items": _SERVICE}}}}, **error_responses(400, 404)},
    }),
    **described_both(f"{BASE}/services/{{service_code}}", "get", {
        "operationId": "open311ServiceDefinition", "summary": "Service definition (attributes)",
        "tags": ["open311"], "security": [{}],
        "parameters": [{"name": "service_code", "in": "path", "required": True, "schema": {"type": "string"}},
                       _JURISDICTION],
        "responses": {"200": {"description": "Definition", "content": {"application/json": {"schema": {
            "type": "object", "required": ["service_code", "attributes"],
            "properties": {"service_code": {"type": "string"}, "attributes": {"type": "array"}}}}}},
            **error_responses(400, 404)},
    }),
    **described_both(f"{BASE}/requests", "post", {
        "operationId": "open311CreateRequest", "summary": "Create a service request (stored before answering)",
        "description": "`description` is required here (a complaint must say what happened); `address_id` is "
                       "refused with 400 (no address system to look it up in): send lat/long or address_string.",
        "tags": ["open311"], "security": [{}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["api_key", "service_code", "description"],
            "properties": _FORM_PROPERTIES, "additionalProperties": {"type": "string"}}}}},
        "responses": {"201": {"description": "Stored", "content": {"application/json": {"schema": {
            "type": "array", "items": {"type": "object", "required": ["service_request_id"], "properties": {
                "service_request_id": {"type": "string"}, "service_notice": {"type": "string"},
                "account_id": {"type": ["string", "null"]}}}}}}},
            **error_responses(400, 403, 404, 413, 415, 429, 503)},
    }),
    **described_both(f"{BASE}/tokens/{{token}}", "get", {
        "operationId": "open311Token", "summary": "The service request id for a token (a complaint's id)",
        "tags": ["open311"], "security": [{}],
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "Found", "content": {"application/json": {"schema": {
            "type": "array", "items": {"type": "object", "properties": {
                "service_request_id": {"type": "string"}, "token": {"type": "string"}}}}}}},
            **error_responses(404, 503)},
    }),
}  # fmt: skip
