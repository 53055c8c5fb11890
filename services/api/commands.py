"""Staff commands on complaints (the work order's life after intake), and the machinery every command shares.

A command is one row in a table: its route, the roles that may send it, its body's fields, and the one
aggregate method it calls. Every command runs the same way: role check, load the aggregate, object check,
strict body check, apply, save with the aggregate's expected stream position. A concurrent writer makes the
save fail (ConcurrencyConflict); the command is then re-applied to a freshly loaded aggregate a few times
before answering 409. Answers carry a state summary only (id, status, version), never personal data.

With an Idempotency-Key (services/api/idempotency.py), the change is marked in the stream as the request's; a
retry whose answer was lost finds the mark on the aggregate and gets the state as it is now, with
`Idempotent-Replayed: true`, instead of a second record or a 409 for a move already made.
"""

from __future__ import annotations

import asyncio
import random
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import asyncpg
import nats.errors
import structlog
from aiohttp import web
from eventsourcing.domain import Aggregate

from events.complaint import Complaint
from events.complaint_rules import SATISFACTION
from events.deadlines import extended_until, fold_all
from events.errors import DomainError
from events.mapper import make_mapper
from events.publishing.redaction import check_publishable
from events.responsible import MAX_PERSON_LENGTH
from events.store.aggregates import AggregateNotFound, AggregateStore, RequestMark, requests_of
from events.store.errors import ConcurrencyConflict, StoreFull, StoreUnavailable, WriteUnconfirmed
from events.store.keys import PersonalKeyStore
from services.api import idempotency, keys, known_personal_data, strict_json
from services.api.auth import require_holding_department, require_role, role_names
from services.api.intake_schema import clean_text
from services.api.openapi import json_body, problem_responses
from services.api.principal import PRINCIPAL, Principal
from services.api.problems import (
    ERRORS_LISTED,
    FieldError,
    Problem,
    from_domain_error,
    invalid,
    store_full,
    write_unconfirmed,
)

log = structlog.get_logger(__name__)

A = TypeVar("A", bound=Aggregate)
Body = dict[str, Any]
API = "/api/v1"
# A command re-applied after this many conflicting saves is answered 409. Between tries, a pause that grows and
# is jittered: six writers on one busy case or incident retrying at once collided again, and three tries
# without a pause answered 409 to 45% of notes on one case and 61% of links to one incident (a review).
ATTEMPTS = 8
RETRY_PAUSE = 0.005  # seconds before the second try; doubled each time, at most RETRY_PAUSE_MAX
RETRY_PAUSE_MAX = 0.2
MAX_BODY = 64 * 1024


# -- bodies ------------------------------------------------------------------------------------------

FieldKind = Literal["text", "integer", "boolean", "uuid", "choice", "text_list"]


CONTROLS_REFUSED = "must not contain control characters or lone surrogates (line breaks and tabs are fine)"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: FieldKind = "text"
    required: bool = True
    max_length: int = 500
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    default: Any = None
    description: str = ""

    def parse(self, value: Any) -> Any:
        """The value as the command wants it; raises ValueError with what a person should fix."""
        if value is None and self.nullable:
            return None
        if self.kind in ("text", "choice", "uuid"):
            if not isinstance(value, str):
                raise ValueError("must be a string")
            if len(value) > self.max_length:  # counted as sent, as the document's maxLength counts
                raise ValueError(f"must be at most {self.max_length} characters")
            if self.kind == "text":
                # NFC and trimmed as intake's text; "" when nothing visible is left (zero-width spaces only)
                cleaned = clean_text(value)
                if cleaned is None:  # a control character would break the Atom feed and CAP XML
                    raise ValueError(CONTROLS_REFUSED)
                value = cleaned
            else:
                value = unicodedata.normalize("NFC", value).strip()
            if self.kind == "uuid":
                try:
                    return uuid.UUID(value)
                except ValueError:
                    raise ValueError("must be a UUID") from None
            if self.kind == "choice" and value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            if self.required and not value:
                raise ValueError("must not be blank")
            return value
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("must be a whole number")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ValueError(f"must be from {self.minimum} to {self.maximum}")
            return value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of strings")
        if len(value) > (self.maximum or 50):
            raise ValueError(f"must have at most {self.maximum or 50} items")
        items = [clean_text(item) for item in value]
        if None in items:
            raise ValueError(CONTROLS_REFUSED)
        return items

    def schema(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, Any]] = {
            "text": {"type": "string", "minLength": 1 if self.required else 0, "maxLength": self.max_length},
            "choice": {"type": "string", "enum": list(self.choices)},
            "uuid": {"type": "string", "format": "uuid"},
            "boolean": {"type": "boolean"},
            "integer": {"type": "integer", "minimum": self.minimum, "maximum": self.maximum},
            "text_list": {"type": "array", "items": {"type": "string"}, "maxItems": self.maximum or 50},
        }
        base = {key: value for key, value in by_kind[self.kind].items() if value is not None}
        if self.kind == "text" and self.required:
            base["pattern"] = r"\S"
        if self.nullable:
            base["type"] = [base["type"], "null"]
            if "enum" in base:
                base["enum"] = [*base["enum"], None]
        if self.description:
            base["description"] = self.description
        return base


async def read_body(request: web.Request, fields: tuple[Field, ...]) -> Body:
    """The JSON object body, every field checked; unknown fields are refused by name (no mass assignment)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(
            413, "Body too large", f"A command body is at most {MAX_BODY} bytes.", code="body_too_large"
        )
    raw = await request.read() if request.body_exists else b""
    if len(raw) > MAX_BODY:
        raise Problem(
            413, "Body too large", f"A command body is at most {MAX_BODY} bytes.", code="body_too_large"
        )
    if not raw.strip():
        data: Any = {}
    else:
        if request.content_type != "application/json":
            raise Problem(
                415, "Unsupported media type", "Send the command as application/json.",
                code="unsupported_media_type", headers={"Accept": "application/json"},
            )  # fmt: skip
        try:
            data = strict_json.loads(raw)  # as intake reads it: no duplicate names, no NaN, UTF-8 only
        except strict_json.NotJson as exc:
            raise Problem(
                400, "Unreadable JSON", f"The body is not valid JSON: {exc}.", code="invalid_json"
            ) from None
    if not isinstance(data, dict):
        raise invalid([FieldError("", "the body must be a JSON object")])
    known = {f.name: f for f in fields}
    errors = [FieldError(name, "unknown field") for name in data if name not in known]
    body: Body = {}
    for f in fields:
        if f.name not in data:
            if f.required:
                errors.append(FieldError(f.name, "is required"))
            else:
                body[f.name] = f.default
            continue
        try:
            body[f.name] = f.parse(data[f.name])
        except ValueError as exc:
            errors.append(FieldError(f.name, str(exc)))
    if errors:
        allowed = ", ".join(known) or "none"
        listed = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors[:ERRORS_LISTED])
        raise invalid(errors, f"{listed} (fields: {allowed})")  # invalid() adds how many more there were
    return body


# -- loading and saving ------------------------------------------------------------------------------


class Repository:
    """The app's one AggregateStore (its position cache saves a read per save), built once NATS is usable."""

    def __init__(self, link: keys.NatsLink, pool: asyncpg.Pool) -> None:
        self.link = link
        self.personal_keys = PersonalKeyStore(pool)
        self.sealed_reporters = known_personal_data.SealedReporters()  # what publishing must not name
        self._aggregates: AggregateStore | None = None
        self._keys_ready = False

    def aggregates(self) -> AggregateStore:
        store = self.link.store()  # DependencyUnavailable (503) until NATS and the stream are usable
        if self._aggregates is None:
            self._aggregates = AggregateStore(store, make_mapper(), held=self.link.held)
        return self._aggregates

    async def load(self, aggregate_id: uuid.UUID, cls: type[A], noun: str, *, at_least: int = 0) -> A:
        aggregate = await self.find(aggregate_id, cls, at_least=at_least)
        if aggregate is None:
            raise Problem(404, f"No such {noun}", f"There is no {noun} {aggregate_id}.", code="not_found")
        return aggregate

    async def find(self, aggregate_id: uuid.UUID, cls: type[A], *, at_least: int = 0) -> A | None:
        try:
            return await self.aggregates().get(aggregate_id, cls, at_least=at_least)
        except AggregateNotFound:
            return None
        except (StoreUnavailable, nats.errors.Error, TimeoutError) as exc:
            raise keys.DependencyUnavailable("NATS", f"cannot read: {type(exc).__name__}") from exc

    async def reload(self, refused: ConcurrencyConflict, attempt: int, aggregate_id: uuid.UUID, cls: type[A],
                     noun: str) -> A:  # fmt: skip
        """After a conflicting save: a pause (`attempt`'s), then the aggregate read again as far as the server
        said its subject reaches when the conflict was its own (a replica a moment behind would hand back the
        same stale copy, and the tries went for nothing)."""
        await pause_before_retry(attempt)
        subject = self.aggregates().store.spec.event_subject(aggregate_id)
        own = refused.subject is None or refused.subject == subject
        return await self.load(aggregate_id, cls, noun, at_least=refused.last_seq if own else 0)

    async def save(self, *aggregates: Aggregate, request: RequestMark | None = None) -> None:
        """`request`: the keyed request making the change, marked on its last event (a retry finds it)."""
        try:
            await self.aggregates().save(*aggregates, request=request)
        except StoreFull as exc:
            raise store_full(exc) from None
        except WriteUnconfirmed as exc:
            if request is None:
                raise write_unconfirmed(exc, "The change") from None
            raise write_unconfirmed(exc, "The change", KEYED_ADVICE) from None
        except StoreUnavailable as exc:
            raise keys.DependencyUnavailable("NATS", f"nothing was stored: {exc}") from exc

    async def history(self, complaint: Complaint) -> list[Any]:
        """The complaint's events up to the version loaded: for a fold of its own (events/deadlines.py)."""
        try:
            history = await self.aggregates().history(complaint.id, version=complaint.version)
        except (StoreUnavailable, nats.errors.Error, TimeoutError) as exc:
            raise keys.DependencyUnavailable("NATS", f"cannot read: {type(exc).__name__}") from exc
        return [event for event in history if event.originator_version <= complaint.version]

    async def erase_personal_key(self, complaint: Complaint, reason: str) -> bool:
        if not self._keys_ready:
            await self.personal_keys.create_schema()
            self._keys_ready = True
        # Its sealed reporter data: the key store keeps what the redaction guard must still refuse, keyed.
        return await self.personal_keys.erase(complaint.id, reason, complaint.reporter_sealed)


REPOSITORY = web.AppKey("command_repository", Repository)


async def repository(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the NATS link and the pool): the repository commands load and save through."""
    app[REPOSITORY] = Repository(app[keys.NATS_LINK], app[keys.PG_POOL])
    yield


def path_id(request: web.Request, noun: str, name: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(
            404, f"No such {noun}", f"{noun.capitalize()} ids are UUIDs.", code="not_found"
        ) from None


async def pause_before_retry(attempt: int) -> None:
    """After the `attempt`th conflicting save: a pause that grows and is jittered (see ATTEMPTS)."""
    await asyncio.sleep(random.uniform(0, min(RETRY_PAUSE_MAX, RETRY_PAUSE * 2 ** (attempt - 1))))


# -- Idempotency-Key ----------------------------------------------------------------------------------

KEYED_ADVICE = (
    "Send it again with the same Idempotency-Key to find out: a change this try stored is answered, not made "
    "twice."
)


def asked(
    request: web.Request, key: str | None, body: Body, target: uuid.UUID | None = None
) -> RequestMark | None:
    """The keyed request's mark (None without a key): for this token, this route and `target` (the
    aggregate acted on; None for a creation), and this body. Computed before any `prepare` adds to it."""
    if key is None:
        return None
    resource = request.match_info.route.resource  # the template ("/api/v1/complaints/{id}/progress")
    route = f"{request.method} {resource.canonical if resource is not None else request.path}"
    return idempotency.staff_request(request[PRINCIPAL], route, target, key, body)


def replays(aggregate: Aggregate, mark: RequestMark | None) -> bool:
    """Whether an earlier try of this keyed request made its change on `aggregate` (422: the key went with
    another body)."""
    return idempotency.replays(requests_of(aggregate), mark)


def replayed(summary: dict[str, Any], *, status: int = 200) -> web.Response:
    """The answer to a retry: the state as it is now; nothing was written."""
    log.info("request_replayed", id=summary.get("id"))
    return web.json_response(summary, status=status, headers={idempotency.REPLAYED: "true"})


def new_id(mark: RequestMark | None) -> uuid.UUID | None:
    """The id a creation gets: the request's when keyed (see `save_created`), else None (a random one)."""
    return None if mark is None else idempotency.created_id(mark)


async def created_earlier(
    repo: Repository, mark: RequestMark | None, cls: type[A], *, at_least: int = 0
) -> A | None:
    """The aggregate an earlier try of this keyed creation made (its id is the request's), None when none
    did; 422 when the key went with another body."""
    if mark is None:
        return None
    aggregate = await repo.find(idempotency.created_id(mark), cls, at_least=at_least)
    return aggregate if aggregate is not None and replays(aggregate, mark) else None


async def save_created(repo: Repository, aggregate: A, mark: RequestMark | None, noun: str) -> A | None:
    """Store a new aggregate (made with `idempotency.created_id(mark)` when keyed): None when stored now, else
    the one a racing or earlier try of the same request stored first (its subject was not empty)."""
    try:
        await repo.save(aggregate, request=mark)
    except ConcurrencyConflict as refused:
        earlier = await created_earlier(repo, mark, type(aggregate), at_least=refused.last_seq)
        if earlier is None:
            raise conflict(noun) from None
        return earlier
    return None


def conflict(noun: str) -> Problem:
    return Problem(
        409, "Changed by someone else", f"The {noun} kept changing while this command was applied; try again.",
        code="concurrent_change",
    )  # fmt: skip


def moved_meanwhile(noun: str) -> Problem:
    return Problem(
        409, "Moved on meanwhile",
        f"While you acted, a colleague moved the {noun} on (re-dispatched or returned it): it is no longer your "
        "department's, and nothing of yours was stored. Reload your queue.",
        code="moved_meanwhile",
    )  # fmt: skip


# -- one table row per command -----------------------------------------------------------------------


@dataclass(frozen=True)
class Command(Generic[A]):
    action: str  # the path after /{id}/
    roles: tuple[str, ...]
    fields: tuple[Field, ...]
    apply: Callable[[A, Body, Principal], None]
    summary: str
    # What must happen before the event is recorded (erasing a key before recording it), and what `apply`
    # needs derived from the aggregate as loaded (a bound folded from its history). Run again with the
    # validated body afresh whenever a conflict reloads the aggregate, so it must be safe to repeat.
    prepare: Callable[[web.Request, A, Body], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Target(Generic[A]):
    """Everything the shared handler needs to know about one aggregate type."""

    noun: str
    collection: str  # /api/v1/<collection>/{id}/<action>
    cls: type[A]
    authorize: Callable[[Principal, A], None]
    summarize: Callable[[A], dict[str, Any]]
    tag: str


def command_handler(kind: Target[A], command: Command[A]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        principal = request[PRINCIPAL]
        require_role(principal, command.roles)
        key = idempotency.read_key(request.headers.get(idempotency.HEADER))
        repo = request.app[REPOSITORY]
        aggregate_id = path_id(request, kind.noun)
        aggregate = await repo.load(aggregate_id, kind.cls, kind.noun)
        try:
            kind.authorize(
                principal, aggregate
            )  # before the body: a refused caller learns nothing from validation
        except Problem as refused:
            # Pressed again after a lost answer to a change that took the case away (a return): this token's mark
            # on it proves the change was its own. Answered as a retry, not as a trespass (found by a review).
            if key is None:
                raise
            try:
                mark = asked(request, key, await read_body(request, command.fields), aggregate_id)
            except Problem:
                raise refused from None
            if not replays(aggregate, mark):
                raise
            return replayed(kind.summarize(aggregate))
        body = await read_body(request, command.fields)
        mark = asked(request, key, body, aggregate_id)
        if replays(aggregate, mark):  # before `prepare`: a retry has nothing left to prepare
            return replayed(kind.summarize(aggregate))
        asked_for = body
        for attempt in range(1, ATTEMPTS + 1):
            if command.prepare is not None:  # for the state loaded now: a reload may have moved its bounds
                body = dict(asked_for)
                await command.prepare(request, aggregate, body)
            try:
                command.apply(aggregate, body, principal)
            except (
                DomainError
            ) as refused:  # with the state it was refused in: the caller's screen may be stale
                problem = from_domain_error(refused)
                problem.extensions["current"] = kind.summarize(aggregate)
                raise problem from None
            try:
                await repo.save(aggregate, request=mark)
            except ConcurrencyConflict as refused:
                log.info("command_conflict", command=command.action, attempt=attempt, id=str(aggregate_id))
                if attempt == ATTEMPTS:
                    break  # no pause and no read for nothing: the answer is 409
                aggregate = await repo.reload(refused, attempt, aggregate_id, kind.cls, kind.noun)
                try:
                    kind.authorize(principal, aggregate)
                except Problem as refusal:  # it was theirs when they acted: a race lost, not a trespass
                    raise moved_meanwhile(kind.noun) if refusal.status == 403 else refusal from None
                if replays(aggregate, mark):  # a twin of this request won the race: its change is ours
                    return replayed(kind.summarize(aggregate))
                continue
            log.info(
                "command_applied", command=command.action, id=str(aggregate_id), version=aggregate.version
            )
            return web.json_response(kind.summarize(aggregate))
        raise conflict(kind.noun)

    return handle


def ensure_repository(app: web.Application) -> None:
    """Every command module needs the repository; one per app, whichever module registers first."""
    if repository not in app.cleanup_ctx:
        app.cleanup_ctx.append(repository)


def add_command_routes(app: web.Application, kind: Target[A], commands: tuple[Command[A], ...]) -> None:
    ensure_repository(app)
    for command in commands:
        app.router.add_post(
            f"{API}/{kind.collection}/{{id}}/{command.action}", command_handler(kind, command)
        )


# -- the OpenAPI fragments, from the same tables that register the routes ----------------------------

# The document itself (services/api/openapi.py) supplies the Problem schema and the `bearer` scheme.
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 503)


def operation(
    *,
    operation_id: str,
    summary: str,
    roles: tuple[str, ...],
    fields: tuple[Field, ...],
    tag: str,
    result: dict[str, Any],
    created: bool = False,
    with_id: bool = True,
    keyed: bool = False,
) -> dict[str, Any]:
    """`keyed`: the operation honours an Idempotency-Key (command_handler's, and the creations that say so)."""
    body = {
        "type": "object", "additionalProperties": False, "properties": {f.name: f.schema() for f in fields},
        "required": [f.name for f in fields if f.required],
    }  # fmt: skip
    op: dict[str, Any] = {
        "operationId": operation_id, "summary": summary, "tags": [tag], "security": [{"bearer": []}],
        "description": f"Roles: {', '.join(role_names(roles))}. Unknown fields are refused (422).",
        "requestBody": json_body(body, required=any(f.required for f in fields)),
        "responses": {
            "201" if created else "200": {"description": "The new state (no personal data)",
                                          "content": {"application/json": {"schema": result}}},
            **problem_responses(*PROBLEM_STATUSES),
        },
    }  # fmt: skip
    parameters: list[dict[str, Any]] = []
    if with_id:
        parameters.append(
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        )
    if keyed:
        parameters.append(idempotency.PARAMETER)
        op["responses"]["201" if created else "200"]["headers"] = {
            idempotency.REPLAYED: idempotency.REPLAYED_HEADER
        }
    if parameters:
        op["parameters"] = parameters
    return op


def openapi_paths(
    kind: Target[A], commands: tuple[Command[A], ...], result: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {
        f"{API}/{kind.collection}/{{id}}/{c.action}": {
            "post": operation(
                operation_id=f"{kind.noun}_{c.action.replace('-', '_').replace('/', '_')}",
                summary=c.summary,
                roles=c.roles,
                fields=c.fields,
                tag=kind.tag,
                result=result,
                keyed=True,  # every command_handler route honours an Idempotency-Key
            )
        }
        for c in commands
    }


# -- complaints --------------------------------------------------------------------------------------


def _complaint_summary(complaint: Complaint) -> dict[str, Any]:
    return {
        "id": str(complaint.id), "status": str(complaint.status), "version": complaint.version,
        "department": complaint.department, "escalation_level": complaint.escalation_level,
        "extension_pending": complaint.extension_pending is not None,
    }  # fmt: skip


def _complaint_access(principal: Principal, complaint: Complaint) -> None:
    # A case that was this department's and has moved on (re-dispatched, returned) while its page showed it: a
    # race lost, said as such, not a trespass (found by a review: "403 not dispatched to water").
    if principal.department is not None and principal.department != complaint.department:
        if principal.department in getattr(complaint, "dispatched_to", ()):  # (a snapshot from before it)
            raise moved_meanwhile("complaint")
    require_holding_department(principal, complaint.department)


async def _erase_key(request: web.Request, complaint: Complaint, body: Body) -> None:
    # Erase first: if recording the redaction then fails, the data is already unreadable and a retry
    # records it; the other order could record a redaction that did not happen.
    await request.app[REPOSITORY].erase_personal_key(complaint, body["reason"])


# Where a command's `prepare` leaves the personal data its text must not carry, for `apply` to check on every
# try (public notes here, notice publication in commands_notices). read_body refuses unknown fields, so no
# caller can set it.
KNOWN = "known_personal_data"


async def _known_if_public(request: web.Request, complaint: Complaint, body: Body) -> None:
    """The complainant's own data, when the note is for the public (shown on the status page and Open311)."""
    keys_store = request.app[REPOSITORY].personal_keys
    body[KNOWN] = await known_personal_data.of_complaint(complaint, keys_store) if body["public"] else []


async def _extended_until(request: web.Request, complaint: Complaint, body: Body) -> None:
    """Where the grant moves the resolve-by the watcher has (after a sign-for, a return or a reopen it is not the
    assessment's): the extension's `resolve_by` in the history says what the board says."""
    state = fold_all(complaint.id, await request.app[REPOSITORY].history(complaint))
    body["resolve_by"] = extended_until(state, datetime.now(UTC), body["minutes"])


def _note_progress(complaint: Complaint, body: Body, principal: Principal) -> None:
    if body["public"]:
        check_publishable({"text": body["text"]}, body[KNOWN])
    complaint.note_progress(_dept(principal), body["text"], public=body["public"])


def _dept(principal: Principal) -> str:
    assert principal.department is not None  # the role check let only department staff through
    return principal.department


COMPLAINTS: Target[Complaint] = Target(
    "complaint", "complaints", Complaint, _complaint_access, _complaint_summary, "complaint commands"
)
REASON = Field("reason", max_length=1000)
# The named person responsible (责任人), on complaints and incidents alike (commands_incidents.py).
RESPONSIBLE_FIELDS = (
    Field("person", max_length=MAX_PERSON_LENGTH, description="a staff member's name, as the board shows it"),
    Field("note", required=False, default="", max_length=1000, description="why them, or a handover note"),
)
COMPLAINT_COMMANDS: tuple[Command[Complaint], ...] = (
    Command("dispatch", ("command",),
            (Field("department", max_length=64), REASON,
             Field("overrule_return", "boolean", required=False, default=False,
                   description="send it to a department that returned it as not theirs (422 department_returned_it "
                               "without it)")),
            lambda c, b, p: c.dispatch(b["department"], by=p.name, reason=b["reason"], by_hand=True,
                                       overrule_return=b["overrule_return"]),
            "Dispatch or re-dispatch the complaint to a department"),
    Command("accept", ("department",), (), lambda c, b, p: c.accept(_dept(p)),
            "Sign for a dispatched complaint (starts the resolve clock)"),
    Command("return", ("department",), (REASON,), lambda c, b, p: c.return_dispatch(_dept(p), b["reason"]),
            "Return a complaint that is not this department's, saying why"),
    Command("progress", ("department",),
            (Field("text", max_length=4000), Field("public", "boolean", required=False, default=False,
                                                   description="shown to the complainant when true")),
            lambda c, b, p: _note_progress(c, b, p),
            "Note progress, internal or public (a public note carrying a phone, ID number, email, or the "
            "complainant's name or address is refused: 422 says what and where)", prepare=_known_if_public),
    Command("extension-requests", ("department",),
            (Field("minutes", "integer", minimum=1, maximum=20160), REASON),
            lambda c, b, p: c.request_extension(_dept(p), b["minutes"], b["reason"]),
            "Ask command staff for more time"),
    Command("extension-requests/grant", ("command",), (Field("minutes", "integer", minimum=1, maximum=20160),),
            lambda c, b, p: c.grant_extension(by=p.name, minutes=b["minutes"], resolve_by=b["resolve_by"]),
            "Grant the pending extension (possibly a different number of minutes)", prepare=_extended_until),
    Command("extension-requests/deny", ("command",), (REASON,),
            lambda c, b, p: c.deny_extension(by=p.name, reason=b["reason"]), "Deny the pending extension"),
    Command("escalate", ("command",), (Field("level", "integer", minimum=1, maximum=2), REASON),
            lambda c, b, p: c.escalate(b["level"], b["reason"], by=p.name),
            "Escalate to level 1 (department head) or 2 (command)"),
    Command("reinstate", ("command",),
            (REASON,
             Field("category", required=False, nullable=True, max_length=64,
                   description="a category code (GET /api/v1/reference); null keeps the reporter's (422 "
                               "category_required when there is none)"),
             Field("district", required=False, nullable=True, max_length=64,
                   description="a district code, when the reported location was wrong: it replaces the location, "
                               "whose coordinates are dropped (422 outside_served_area without it when the "
                               "location is outside the served area)")),
            lambda c, b, p: c.reinstate(b["reason"], by=p.name, category=b["category"] or None,
                                        district=b["district"] or None),
            "Overrule triage's rejection (无效): take the complaint after all, as validated; triage then scores it "
            "(a repeat of the reporter's case still being handled joins it) and dispatch routes it (409 "
            "not_rejected when it is not rejected, complaint_redacted when its data was erased)"),
    Command("responsible", ("command",), RESPONSIBLE_FIELDS,
            lambda c, b, p: c.assign_responsible(b["person"], by=p.name, note=b["note"]),
            "Name the one person responsible (责任人), or hand over to another (409 already_responsible when it is "
            "the same person)"),
    Command("resolve", ("department",),
            (Field("summary", max_length=4000),
             Field("answer_ref", required=False, nullable=True, max_length=200)),
            lambda c, b, p: c.resolve(_dept(p), b["summary"], "handled", b["answer_ref"]),
            "Resolve the complaint, saying what was done"),
    Command("follow-ups", ("operator",),
            (Field("contacted", "boolean"),
             Field("satisfaction", "choice", required=False, nullable=True, choices=SATISFACTION),
             Field("comment", required=False, default="", max_length=2000)),
            lambda c, b, p: c.record_follow_up(b["contacted"], b["satisfaction"], b["comment"]),
            "Record a follow-up call and the complainant's satisfaction"),
    Command("follow-up-attempts", ("operator",), (Field("note", max_length=1000),),
            lambda c, b, p: c.attempt_follow_up(b["note"]), "Record a follow-up call that reached nobody"),
    Command("reopen", ("operator", "command"), (REASON,),
            lambda c, b, p: c.reopen_and_escalate_repeats(b["reason"], by=f"{p.role}:{p.name}"),
            "Reopen a resolved complaint; from its second reopening it goes to command (level 2)"),
    Command("close", ("operator", "command"), (), lambda c, b, p: c.close(),
            "Close a resolved complaint once its follow-up call is recorded (409 follow_up_required; 409 "
            "unsatisfied_follow_up: reopen it instead)"),
    Command("redact", ("command",), (REASON,), lambda c, b, p: c.redact(b["reason"]),
            "Erase the complainant's personal data for good (crypto-shredding)", prepare=_erase_key),
)  # fmt: skip


def add_routes(app: web.Application) -> None:
    add_command_routes(app, COMPLAINTS, COMPLAINT_COMMANDS)


COMPLAINT_STATE: dict[str, Any] = {
    "type": "object", "required": ["id", "status", "version"],
    "properties": {
        "id": {"type": "string", "format": "uuid"}, "status": {"type": "string"}, "version": {"type": "integer"},
        "department": {"type": ["string", "null"]}, "escalation_level": {"type": "integer"},
        "extension_pending": {"type": "boolean"},
    },
}  # fmt: skip


OPENAPI_PATHS: dict[str, dict[str, Any]] = openapi_paths(COMPLAINTS, COMPLAINT_COMMANDS, COMPLAINT_STATE)
