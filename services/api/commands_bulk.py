"""A department's bulk action on an incident: accept (签收) or resolve (办结) all its cases of that incident at once.

One substation failure can put hundreds of complaints in one department's queue; the duty desk signs for
them, and resolves them when the power is back, with one request each instead of one per case.

Who: department staff, on their own department's cases, as for the single-case accept and resolve. Command
staff do not act on a department's behalf: nowhere else do they sign for or resolve a case, and the events
name the department that did. Which cases: candidates come from the read model (the incident's complaints
held by the caller's department); each is then loaded from the stream and decided by the aggregate with the
single-case command's own `apply` (the read model may lag; the aggregate is the truth). A complaint it
refuses is counted under the refusal's code (`not_dispatched`, `not_accepted`, ...): asking again acts on
nothing new.

Storing: CHUNK complaints (one event each) per atomic batch, every event carrying its aggregate's expected
stream position, so a request with up to CHUNK candidates is all or nothing. A conflict stores nothing of the
chunk: the complaints written meanwhile are reloaded and decided again, the rest retried as they were, up to
ATTEMPTS saves; what still conflicts then is skipped (`changed_concurrently`). NATS failing part-way answers
503 naming the complaints stored by the chunks committed before; nothing of the failed chunk or after it is
stored, and asking again acts on exactly the rest.

With an Idempotency-Key (services/api/idempotency.py), every complaint's event carries the request's mark, so a
retry whose answer was lost (or that a 503 cut short) finds, case by case, what an earlier try stored: those
count as acted, again, and are never acted on twice (a case resolved by the first try and reopened since is not
resolved again); the rest are decided as usual. The answer says `Idempotent-Replayed: true` when the retry
stored nothing new. The mark is looked for on the department's other cases of the incident too (resolved or
closed in the last hour, which the read model no longer lists as held: on each one's last event only, one read
for a thousand), and on every case before any is stored: the key with another body is 422 with nothing stored,
even when the first chunk holds only cases the first try never saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import nats.errors
import structlog
from aiohttp import web

from events.complaint import Complaint
from events.errors import DomainError
from events.incident import Incident
from events.store.aggregates import REQUEST, AggregateStore, RequestMark, requests_of
from events.store.errors import ConcurrencyConflict, StoreFull, StoreUnavailable, WriteUnconfirmed
from events.store.jetstream import MAX_BATCH
from services.api import health, idempotency, keys
from services.api.auth import require_role
from services.api.commands import (
    API,
    ATTEMPTS,
    COMPLAINT_COMMANDS,
    REPOSITORY,
    Body,
    Command,
    Field,
    Repository,
    asked,
    ensure_repository,
    operation,
    path_id,
    pause_before_retry,
    read_body,
)
from services.api.openapi import problem_responses
from services.api.principal import PRINCIPAL, Principal
from services.api.problems import FieldError, Problem, invalid, store_full
from services.api.read_models.queries import S
from services.api.read_routes import department_in_path, json_response, reading

log = structlog.get_logger(__name__)

CHUNK = 200  # complaints (one event each) per atomic batch: a fifth of MAX_BATCH
assert CHUNK <= MAX_BATCH
SKIPPED_IDS = 200  # per reason, in an answer: which cases still need a hand, without an answer of every id
# The single-case commands themselves: the same fields, the same aggregate method, the same roles.
ACTIONS: dict[str, Command[Complaint]] = {
    c.action: c for c in COMPLAINT_COMMANDS if c.action in ("accept", "resolve")
}
ROLES = ("department",)
READ_ROLES = ("command", "department")
# A `prepare` would run per case with the request (e.g. checking a public text against each complainant's own
# data); this module does not run one, so it refuses to start rather than skip a check the single case makes.
if any(c.prepare is not None or c.roles != ROLES for c in ACTIONS.values()):
    raise RuntimeError("commands_bulk: a single-case accept/resolve now has a prepare step or other roles")
# Statuses in which a case is with its department (what its queue shows); the aggregate decides the rest.
HELD = ["dispatched", "accepted", "reopened"]
# How far back a keyed retry looks for cases an earlier try took out of the department's hands (resolved): a
# retry later than that does not count them in `acted` (nor in `skipped`); nothing is done twice either way.
RETRY_LOOKBACK = timedelta(hours=1)
_OPTIONAL = tuple(
    replace(f, required=False, default=None) for c in ACTIONS.values() for f in c.fields
)  # every action's fields, each optional here and checked by its own action in _command_body
BODY_FIELDS = (Field("action", "choice", choices=tuple(ACTIONS)), *_OPTIONAL)


def _command_body(body: Body) -> Body:
    """The body the single-case command takes, checked by that command's own fields (422 naming them)."""
    action = body["action"]
    fields = ACTIONS[action].fields
    own = {f.name for f in fields}
    errors = [
        FieldError(f.name, f"is not used by action {action}")
        for f in _OPTIONAL
        if f.name not in own and body[f.name] is not None
    ]
    command_body: Body = {}
    for f in fields:
        if body[f.name] is None and f.required:
            errors.append(FieldError(f.name, f"is required for action {action}"))
            continue
        try:
            command_body[f.name] = f.default if body[f.name] is None else f.parse(body[f.name])
        except ValueError as exc:
            errors.append(FieldError(f.name, str(exc)))
    if errors:
        raise invalid(errors)
    return command_body


@dataclass
class Bulk:
    """One request's progress: what was stored, and why the others were left as they were."""

    aggregates: AggregateStore
    incident_id: UUID
    principal: Principal
    command: Command[Complaint]
    body: Body
    request: RequestMark | None = None  # a keyed request: marked on each complaint's event it stores
    acted: list[UUID] = field(default_factory=list)  # by this request: this try, or an earlier or racing one
    earlier: int = 0  # of `acted`, those another try of this keyed request stored
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_ids: dict[str, list[UUID]] = field(default_factory=dict)  # the first SKIPPED_IDS of each reason

    def _skip(self, reason: str, complaint_ids: Sequence[UUID]) -> None:
        self.skipped[reason] += len(complaint_ids)
        listed = self.skipped_ids.setdefault(reason, [])
        listed.extend(complaint_ids[: SKIPPED_IDS - len(listed)])

    @property
    def replayed(self) -> bool:
        """Whether this try stored nothing and another try of the keyed request had acted."""
        return self.earlier > 0 and self.earlier == len(self.acted)

    async def load(self, complaint_ids: Sequence[UUID]) -> list[Complaint]:
        """The complaints, loaded afresh, to decide on. A case an earlier try of this keyed request changed is
        counted as acted instead (422 when the key came with another body there)."""
        found, _ = await self.aggregates.get_many(complaint_ids)
        loaded: list[Complaint] = []
        for complaint_id in complaint_ids:
            complaint = found.get(complaint_id)
            if isinstance(complaint, Complaint) and idempotency.replays(requests_of(complaint), self.request):
                self.acted.append(complaint_id)
                self.earlier += 1
            elif not isinstance(complaint, Complaint):
                self._skip("not_found", [complaint_id])
            else:
                loaded.append(complaint)
        return loaded

    async def find_earlier(self, complaint_ids: Sequence[UUID]) -> None:
        """Of cases the department no longer holds (resolved since), those an earlier try of this keyed request
        left so count as acted (422 when the key came with another body). Only each case's last event is read
        (one multi-last read): the mark rides on the change's last event, and a case changed since is either
        held again (loaded in full with the others) or not this request's to answer for."""
        if self.request is None or not complaint_ids:
            return
        store = self.aggregates.store
        subjects = {store.spec.event_subject(complaint_id): complaint_id for complaint_id in complaint_ids}
        for message in await store.last_messages(list(subjects)):
            header = message.headers.get(REQUEST)
            if header is None:
                continue
            mark = RequestMark.parse(header)
            if idempotency.replays({mark.scope: mark.fingerprint}, self.request):
                self.acted.append(subjects[message.subject])
                self.earlier += 1

    async def run(self, loaded: Sequence[Complaint]) -> None:
        """Decide and store one chunk: one atomic batch, retried on conflicts."""
        batch = self._decided(loaded)
        for attempt in range(1, ATTEMPTS + 1):
            if not batch:
                return
            try:
                # A keyed request's mark on every case's event: a retry checks each case on its own.
                await self.aggregates.save(*batch, request=self.request, mark_each=True)
            except ConcurrencyConflict:
                if attempt == ATTEMPTS:
                    break
                # Nothing of the batch was stored. Only the complaints written since they were loaded are
                # reloaded (and may now be refused); the others go again with the same expected positions.
                await pause_before_retry(attempt)
                changed = await self._changed(batch)
                log.info("department_action_conflict", attempt=attempt, changed=len(changed))
                # A racing twin of a keyed request may have stored them: `load` counts those as acted.
                batch = [c for c in batch if c.id not in changed] + self._decided(
                    await self.load(list(changed))
                )
                continue
            self.acted.extend(c.id for c in batch)
            return
        self._skip("changed_concurrently", [c.id for c in batch])

    def _decided(self, loaded: Sequence[Complaint]) -> list[Complaint]:
        """The complaints on which the command applied; the others counted by reason."""
        batch: list[Complaint] = []
        for complaint in loaded:
            if complaint.incident_id != self.incident_id:
                self._skip("not_in_incident", [complaint.id])  # the read model lags behind a re-link
                continue
            try:
                self.command.apply(complaint, self.body, self.principal)
            except DomainError as refused:  # checked before any event exists: nothing pending
                self._skip(refused.code, [complaint.id])
                continue
            batch.append(complaint)
        return batch

    async def _changed(self, batch: Sequence[Complaint]) -> set[UUID]:
        """Which complaints' subjects no longer end where they ended when loaded (all, if none seems to)."""
        loaded = {
            c.id: self.aggregates.known_position(c.id, c.version - len(c.pending_events)) for c in batch
        }
        return await self.aggregates.moved(loaded) or set(loaded)

    def answer(self) -> dict[str, Any]:
        return {
            "action": self.command.action, "incident_id": str(self.incident_id), "acted": len(self.acted),
            "skipped": dict(self.skipped), "complaint_ids": [str(i) for i in self.acted],
            "skipped_ids": {reason: [str(i) for i in ids] for reason, ids in self.skipped_ids.items()},
        }  # fmt: skip


async def department_action(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    require_role(principal, ROLES)
    assert principal.department is not None  # only department staff pass the role check
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    repo = request.app[REPOSITORY]
    incident_id = path_id(request, "incident")
    await _require_incident(repo, incident_id)
    body = await read_body(request, BODY_FIELDS)
    command_body = _command_body(body)
    mark = asked(request, key, {"action": body["action"], **command_body}, incident_id)
    async with reading(request) as conn:
        candidates, others = await _candidates(
            conn, incident_id, principal.department, every=mark is not None
        )
    bulk = Bulk(repo.aggregates(), incident_id, principal, ACTIONS[body["action"]], command_body, mark)
    request[keys.LOG_FIELDS] = {"incident": str(incident_id), "action": body["action"]}
    try:
        # Every case is loaded (and a keyed request's mark checked) before any is stored: a key reused with
        # another body is refused with nothing stored.
        chunks = [
            await bulk.load(candidates[start : start + CHUNK]) for start in range(0, len(candidates), CHUNK)
        ]
        await bulk.find_earlier(others)
        for chunk in chunks:
            await bulk.run(chunk)
    except (StoreUnavailable, keys.DependencyUnavailable, nats.errors.Error, TimeoutError) as exc:
        log.warning(
            "department_action_interrupted", acted=len(bulk.acted), candidates=len(candidates), error=str(exc)
        )
        considered = len({*candidates, *bulk.acted})  # with the cases an earlier try took out of the queue
        return _interrupted(bulk, exc, considered)
    if bulk.replayed:
        log.info("department_action_replayed", acted=len(bulk.acted), skipped=dict(bulk.skipped))
        return web.json_response(bulk.answer(), headers={idempotency.REPLAYED: "true"})
    log.info(
        "department_action_applied", acted=len(bulk.acted), earlier=bulk.earlier, skipped=dict(bulk.skipped)
    )
    return web.json_response(bulk.answer())


async def _require_incident(repo: Repository, incident_id: UUID) -> None:
    """404 unless the stream holds this incident. Its last event says so in one read: an incident in a surge
    has thousands of events (one per linked complaint), too many to fold for a yes or no."""
    try:
        aggregates = repo.aggregates()
        last = await aggregates.store.last_message(aggregates.store.spec.event_subject(incident_id))
    except (StoreUnavailable, nats.errors.Error, TimeoutError) as exc:
        raise keys.DependencyUnavailable("NATS", f"cannot read: {type(exc).__name__}") from exc
    if last is None or not isinstance(aggregates.to_domain_event(incident_id, last), Incident.Event):
        raise Problem(404, "No such incident", f"There is no incident {incident_id}.", code="not_found")


def _interrupted(bulk: Bulk, exc: Exception, candidates: int) -> web.Response:
    """503 saying what was stored before NATS failed: committed chunks are stored, nothing after them is,
    except, when the write was not confirmed, the chunk in flight may be. Asking again is safe either way:
    cases already acted on are skipped (with the same Idempotency-Key, counted as acted)."""
    stored = f"{len(bulk.acted)} of {candidates} complaints were stored before it failed (complaint_ids)"
    if isinstance(exc, WriteUnconfirmed):
        rest = f"the next {CHUNK} at most may or may not be stored, none after them is"
    else:
        rest = "none of the others was"
    if isinstance(exc, StoreFull):
        detail = f"{exc}. {stored}; {rest}. Ask again once an operator has added storage."
        return replace(store_full(exc), detail=detail, extensions=bulk.answer()).response()
    return health.problem_response(
        503, title="A dependency is unavailable", type_=health.DEPENDENCY_DOWN,
        detail=f"NATS: {exc}. {stored}; {rest}. Asking again acts on the rest.",
        **bulk.answer(),
    )  # fmt: skip


async def _candidates(
    conn: asyncpg.Connection, incident_id: UUID, department: str, *, every: bool
) -> tuple[list[UUID], list[UUID]]:
    """The incident's complaints the department holds, most urgent first (if NATS fails part-way, those are the
    ones done); with `every`, also its others there that changed in the last RETRY_LOOKBACK (resolved, closed:
    where an earlier try may have left them; older ones are not read, as a big incident has thousands)."""
    rows = await conn.fetch(
        f"SELECT id, status = ANY($3::text[]) AS held FROM {S}.complaints "
        "WHERE incident_id = $1 AND department = $2 "
        "AND (status = ANY($3::text[]) OR ($4 AND updated_at >= now() - $5::interval)) "
        "ORDER BY LEAST(accept_by, resolve_by) ASC NULLS LAST, received_at, id",
        incident_id, department, HELD, every, RETRY_LOOKBACK,
    )  # fmt: skip
    return [row["id"] for row in rows if row["held"]], [row["id"] for row in rows if not row["held"]]


# -- the department page's incidents panel -----------------------------------------------------------


async def department_incidents(request: web.Request) -> web.Response:
    """The department's cases per incident (one GROUP BY over the department's held cases)."""
    code = department_in_path(request, READ_ROLES)
    async with reading(request) as conn:
        rows = await conn.fetch(
            "SELECT c.incident_id AS id, i.title, i.status, "
            "count(*) FILTER (WHERE c.status = 'dispatched') AS dispatched, "
            "count(*) FILTER (WHERE c.status <> 'dispatched') AS accepted "
            f"FROM {S}.complaints c LEFT JOIN {S}.incidents i ON i.id = c.incident_id "
            "WHERE c.department = $1 AND c.status = ANY($2::text[]) AND c.incident_id IS NOT NULL "
            "GROUP BY c.incident_id, i.title, i.status ORDER BY count(*) DESC, i.title, c.incident_id",
            code, HELD,
        )  # fmt: skip
    return json_response({"department": code, "items": [dict(row) for row in rows]})


def add_routes(app: web.Application) -> None:
    ensure_repository(app)
    app.router.add_post(f"{API}/incidents/{{id}}/department-actions", department_action)
    app.router.add_get(f"{API}/departments/{{code}}/incidents", department_incidents)


# -- OpenAPI -----------------------------------------------------------------------------------------

_IDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}
RESULT: dict[str, Any] = {
    "type": "object", "required": ["action", "incident_id", "acted", "skipped", "complaint_ids", "skipped_ids"],
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)}, "incident_id": {"type": "string", "format": "uuid"},
        "acted": {"type": "integer", "description": "complaints the action was stored for"},
        "skipped": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "complaints left as they were, by the model's reason (not_dispatched, "
                                   "not_accepted, not_in_incident, changed_concurrently, ...)"},
        "complaint_ids": {**_IDS, "description": "the complaints acted on"},
        "skipped_ids": {"type": "object", "additionalProperties": _IDS,
                        "description": f"which complaints were skipped, by reason (the first {SKIPPED_IDS} of each)"},
    },
}  # fmt: skip


def _action_operation() -> dict[str, Any]:
    op = operation(
        operation_id="incident_department_action", tag="incidents", roles=ROLES, fields=BODY_FIELDS,
        result=RESULT, keyed=True,
        summary="Accept (签收) or resolve (办结) every case of your department linked to the incident; "
                "`resolve` takes the single-case resolve's fields (`summary` required, `answer_ref`). "
                "Cases not in the state the action needs are counted in `skipped`: repeating acts on nothing new. "
                "With an Idempotency-Key, the cases an earlier try acted on count in `acted` and are not acted "
                "on again",
    )  # fmt: skip
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    schema["if"] = {"properties": {"action": {"const": "resolve"}}}
    schema["then"] = {"required": ["summary"]}
    schema["else"] = {
        "properties": {"summary": False, "answer_ref": {"type": "null"}}
    }  # accept: 422 if given
    op["responses"]["503"] = {
        **problem_responses(503)["503"],
        "description": f"NATS unavailable, or the event store full (`event_store_full`). Cases are stored "
        f"{CHUNK} to an atomic batch: `complaint_ids` lists those stored before it failed (none of the others "
        "was, unless the write was not confirmed: then the chunk in flight may be); ask again for the rest "
        "(with the same Idempotency-Key: the cases stored count in `acted`, and nothing is stored twice)",
    }
    return op


OPENAPI_PATHS: dict[str, Any] = {
    f"{API}/incidents/{{id}}/department-actions": {"post": _action_operation()},
    f"{API}/departments/{{code}}/incidents": {"get": {
        "operationId": "department_incidents", "tags": ["read"], "security": [{"bearer": []}],
        "summary": "A department's held cases per incident: `dispatched` (to sign for) and `accepted` (accepted "
                   "or reopened: to resolve), largest first",
        "description": "Roles: command, department:<code> (its own code only).",
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["department", "items"], "properties": {
                "department": {"type": "string"}, "items": {"type": "array", "items": {"type": "object"}}}}}}},
            **problem_responses(401, 403, 404, 503)},
    }},
}  # fmt: skip
