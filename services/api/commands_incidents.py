"""Incident commands (command staff): declare one, move its public status, link complaints to it.

Linking records the fact on both aggregates in one atomic batch, each with its own expected position:
the incident lists the complaint and the complaint names the incident, or neither does.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from events.complaint import Complaint
from events.incident import INCIDENT_STATUSES, Incident
from events.store.errors import ConcurrencyConflict
from services.api import idempotency
from services.api.auth import requires
from services.api.commands import (
    API,
    ATTEMPTS,
    REPOSITORY,
    RESPONSIBLE_FIELDS,
    Command,
    Field,
    Target,
    add_command_routes,
    asked,
    conflict,
    new_id,
    openapi_paths,
    operation,
    path_id,
    read_body,
    replayed,
    replays,
    save_created,
)
from services.api.principal import PRINCIPAL, Principal
from services.api.problems import FieldError, Problem, invalid

log = structlog.get_logger(__name__)


def incident_summary(incident: Incident) -> dict[str, Any]:
    return {"id": str(incident.id), "status": incident.status, "version": incident.version,
            "title": incident.title, "complaints": len(incident.complaint_ids),
            "responsible": getattr(incident, "responsible", None)}  # fmt: skip


def _anyone(principal: Principal, incident: Incident) -> None:
    """Incidents have no owner: command staff, the only role allowed, see everything."""


INCIDENTS: Target[Incident] = Target(
    "incident", "incidents", Incident, _anyone, incident_summary, "incidents"
)
DECLARE_FIELDS = (
    Field("title", max_length=200),
    Field("kind", max_length=64, description="flood, substation_failure, typhoon, ..."),
    Field("districts", "text_list", required=False, default=[], maximum=50,
          description="district codes; empty means the whole served area"),
)  # fmt: skip
STATUS_COMMAND: Command[Incident] = Command(
    "status", ("command",), (Field("status", "choice", choices=INCIDENT_STATUSES),),
    lambda i, b, p: i.update_status(b["status"], by=p.name), "Move the incident's public status",
)  # fmt: skip
RESPONSIBLE_COMMAND: Command[Incident] = Command(
    "responsible", ("command",), RESPONSIBLE_FIELDS,
    lambda i, b, p: i.assign_responsible(b["person"], by=p.name, note=b["note"]),
    "Name the one person responsible (责任人) for the incident, or hand over to another",
)  # fmt: skip
LINK_FIELDS = (Field("complaint_id", "uuid"),)


@requires("command")
async def declare(request: web.Request) -> web.Response:
    """With an Idempotency-Key the incident's id is the request's (commands.save_created): one incident
    however often the request is sent."""
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    body = await read_body(request, DECLARE_FIELDS)
    repo = request.app[REPOSITORY]
    mark = asked(request, key, body)
    incident = Incident.declare(
        title=body["title"],
        kind=body["kind"],
        districts=body["districts"],
        declared_by=request[PRINCIPAL].name,
        id=new_id(mark),
    )
    earlier = await save_created(repo, incident, mark, "incident")
    if earlier is not None:
        return replayed(incident_summary(earlier), status=201)
    log.info("incident_declared", id=str(incident.id), districts=len(incident.districts))
    return web.json_response(incident_summary(incident), status=201)


@requires("command")
async def link_complaint(request: web.Request) -> web.Response:
    """With an Idempotency-Key a retry whose answer was lost is answered (the mark is on the incident's event);
    without one, linking again is refused (409 complaint_already_linked), as it always was."""
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    repo = request.app[REPOSITORY]
    incident_id = path_id(request, "incident")
    incident = await repo.load(incident_id, Incident, "incident")
    body = await read_body(request, LINK_FIELDS)
    mark = asked(request, key, body, incident_id)
    for attempt in range(1, ATTEMPTS + 1):
        if replays(incident, mark):
            return replayed(incident_summary(incident))
        complaint = await _complaint(request, body["complaint_id"])
        incident.link_complaint(complaint.id)
        complaint.link_to_incident(incident.id)
        try:
            await repo.save(incident, complaint, request=mark)
        except ConcurrencyConflict as refused:
            log.info("command_conflict", command="link_complaint", attempt=attempt, id=str(incident_id))
            if attempt == ATTEMPTS:
                break
            incident = await repo.reload(refused, attempt, incident_id, Incident, "incident")
            continue
        log.info("complaint_linked_to_incident", id=str(incident_id), complaint_id=str(complaint.id))
        return web.json_response(
            {
                **incident_summary(incident),
                "complaint": {"id": str(complaint.id), "version": complaint.version},
            }
        )
    raise conflict("incident")


async def _complaint(request: web.Request, complaint_id: Any) -> Complaint:
    try:
        return await request.app[REPOSITORY].load(complaint_id, Complaint, "complaint")
    except Problem as problem:
        if problem.status != 404:
            raise
        raise invalid([FieldError("complaint_id", "no complaint has this id")]) from None


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{API}/incidents", declare)
    app.router.add_post(f"{API}/incidents/{{id}}/complaints", link_complaint)
    add_command_routes(app, INCIDENTS, (STATUS_COMMAND, RESPONSIBLE_COMMAND))


INCIDENT_STATE: dict[str, Any] = {
    "type": "object", "required": ["id", "status", "version"],
    "properties": {"id": {"type": "string", "format": "uuid"}, "status": {"type": "string", "enum": list(INCIDENT_STATUSES)},
                   "version": {"type": "integer"}, "title": {"type": "string"}, "complaints": {"type": "integer"},
                   "responsible": {"type": ["string", "null"]},
                   "complaint": {"type": "object", "properties": {"id": {"type": "string"}, "version": {"type": "integer"}}}},
}  # fmt: skip
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    f"{API}/incidents": {"post": operation(
        operation_id="incident_declare", summary="Declare an incident", roles=("command",), fields=DECLARE_FIELDS, tag="incidents",
        result=INCIDENT_STATE, created=True, with_id=False, keyed=True)},
    f"{API}/incidents/{{id}}/complaints": {"post": operation(
        operation_id="incident_link_complaint", summary="Link a complaint to the incident (recorded on both)", roles=("command",), fields=LINK_FIELDS,
        tag="incidents", result=INCIDENT_STATE, keyed=True)},
    **openapi_paths(INCIDENTS, (STATUS_COMMAND, RESPONSIBLE_COMMAND), INCIDENT_STATE),
}  # fmt: skip
