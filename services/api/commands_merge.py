"""Merging two incidents that are one event (command staff): POST /api/v1/incidents/{id}/merge {"into", "reason"}.

One drill's burst main showed as Water outage, Flooding and Road blocked incidents; one event's first reports,
landing far apart, started two "Medical access in Old Town" incidents. Command merges the one in the path into
`into`, which carries on.

What is stored, and when: the merge itself is one atomic batch over both incidents, each with its expected
stream position: the absorbed incident records IncidentMerged (it ends, its status stays readable) and the
target records IncidentAbsorbed with every complaint id of the absorbed one. Both or neither: there is no
half-merged state. A conflict (a report linked to either meanwhile) reloads both and decides again, up to
ATTEMPTS times, so the target's list always holds every complaint the absorbed one had when it ended.

The complaints' own records (ComplaintMovedToIncident on each open one) follow from IncidentAbsorbed in the
triage worker, exactly once, committed with its tracking record, however often a batch is redone; the answer
says how many are `moving`. Asking again for the same merge stores nothing and answers `already_merged` (also
when the reason differs). With an Idempotency-Key, the absorbed incident's IncidentMerged carries the request's
mark (services/api/idempotency.py): a retry is answered so with `Idempotent-Replayed: true`, as every keyed
command's is, and the key with another `into` or `reason` is 422 `idempotency_key_reused`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from aiohttp import web

from events.incident import Incident, IncidentAbsorbed
from events.store.errors import ConcurrencyConflict
from services.api import idempotency
from services.api.auth import requires
from services.api.commands import (
    API,
    ATTEMPTS,
    REPOSITORY,
    Field,
    Repository,
    asked,
    conflict,
    ensure_repository,
    operation,
    path_id,
    read_body,
    replayed,
    replays,
)
from services.api.commands_incidents import INCIDENT_STATE, incident_summary
from services.api.principal import PRINCIPAL
from services.api.problems import FieldError, Problem, invalid

log = structlog.get_logger(__name__)

MERGE_FIELDS = (
    Field("into", "uuid", description="the incident that carries on (active: neither merged nor resolved)"),
    Field("reason", max_length=1000, description="why these are one event; recorded on both"),
)


@requires("command")
async def merge(request: web.Request) -> web.Response:
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    repo = request.app[REPOSITORY]
    incident_id = path_id(request, "incident")
    source = await repo.load(incident_id, Incident, "incident")
    body = await read_body(request, MERGE_FIELDS)
    mark = asked(request, key, body, incident_id)
    bound = log.bind(id=str(incident_id), into=str(body["into"]))
    for attempt in range(1, ATTEMPTS + 1):
        # An earlier or racing try of this keyed request merged it (422: the key came with another body).
        if replays(source, mark):
            return replayed(_answer(source, await _target(repo, body["into"]), moving=0, already=True))
        target = await _target(repo, body["into"])
        if source.merged_into is not None and source.merged_into == target.id:
            return web.json_response(_answer(source, target, moving=0, already=True))  # a retried request
        source.merge_into(target, by=request[PRINCIPAL].name, reason=body["reason"])
        moving = sum(len(e.complaint_ids) for e in target.pending_events if isinstance(e, IncidentAbsorbed))
        try:
            # The mark goes on the source's IncidentMerged, the event the `already_merged` check reads too.
            await repo.save(source, target, request=mark)
        except ConcurrencyConflict as refused:
            bound.info("command_conflict", command="merge", attempt=attempt)
            if attempt == ATTEMPTS:
                break
            source = await repo.reload(refused, attempt, incident_id, Incident, "incident")
            continue
        bound.info("incident_merged", moving=moving)
        return web.json_response(_answer(source, target, moving=moving))
    raise conflict("incident")


async def _target(repo: Repository, into: UUID) -> Incident:
    try:
        return await repo.load(into, Incident, "incident")
    except Problem as problem:
        if problem.status != 404:
            raise
        raise invalid([FieldError("into", "no incident has this id")]) from None


def _answer(source: Incident, target: Incident, *, moving: int, already: bool = False) -> dict[str, Any]:
    return {
        **incident_summary(source), "merged_into": str(target.id), "into": incident_summary(target),
        "moving": moving, "already_merged": already,
    }  # fmt: skip


def add_routes(app: web.Application) -> None:
    ensure_repository(app)
    app.router.add_post(f"{API}/incidents/{{id}}/merge", merge)


MERGE_RESULT: dict[str, Any] = {
    "type": "object", "required": ["id", "status", "version", "merged_into", "into", "moving", "already_merged"],
    "properties": {
        **INCIDENT_STATE["properties"], "merged_into": {"type": "string", "format": "uuid"},
        "into": {**INCIDENT_STATE, "description": "the target incident, which carries on"},
        "moving": {"type": "integer", "description": "complaint ids the target took in; triage moves each open "
                                                     "one to it (ComplaintMovedToIncident) shortly after"},
        "already_merged": {"type": "boolean", "description": "true: this merge was already made (a retried "
                                                             "request); nothing new was stored, and `moving` "
                                                             "is 0"},
    },
}  # fmt: skip
OPENAPI_PATHS: dict[str, Any] = {
    f"{API}/incidents/{{id}}/merge": {"post": operation(
        operation_id="incident_merge", roles=("command",), fields=MERGE_FIELDS, tag="incidents",
        result=MERGE_RESULT, keyed=True,
        summary="Merge this incident into another (one event seen twice): this one ends (merged_into), the "
                "other counts its complaints, and triage moves each open one. 409 `incident_merged`, "
                "`target_merged`, `target_resolved`; 422 `merge_into_itself` or an unknown `into`",
    )},
}  # fmt: skip
