"""GET /api/v1/complaints/{id}/contact: the complainant's contact details, for whoever must call them back.

Intake seals the reporter's name, phone, email and address with the complaint's own key; nothing else in the
system holds them in clear. An operator making the follow-up call (回访: the case is resolved), command staff,
and the department holding the case (to ask what it needs to resolve it, while it does) may open them; press
never. DOMAIN gives operators "the complaints they handle": an operator's token opens only a case awaiting its
follow-up call (resolved), and no department's opens a case it does not hold. Every
opening is logged (role, token id and complaint; never the data, nor the token's name, which may be a person's)
so access can be audited, and counted (`levee_personal_data_opened_total`; `levee_personal_data_refused_total` and
its alert LeveePersonalDataOpenedInBulk).
Operators share the follow-up queue (no case is assigned to one of them), so each token opens at most a burst of
60, then one every 10 s (ratelimit.py): a leaked operator token read every resolved caller's details in a loop
(found by a security review). An erased key answers 410: gone for good.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from events.complaint import Complaint
from events.complaint_rules import Status
from events.personal import unseal
from services.api import ratelimit
from services.api.auth import require_holding_department, require_role
from services.api.commands import API, REPOSITORY, path_id
from services.api.keys import PG_DOWN, DependencyUnavailable
from services.api.openapi import problem_responses
from services.api.principal import PRINCIPAL
from services.api.problems import Problem
from services.runtime.metrics import PERSONAL_DATA_OPENED

log = structlog.get_logger(__name__)

PATH = f"{API}/complaints/{{id}}/contact"
ROLES = ("operator", "command", "department")
# A department keeps its name on a case it resolved, or that was closed: not a reason to call the caller.
HOLDING = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED})


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, contact, name="complaints.contact")


async def contact(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    require_role(principal, ROLES)
    if (limiter := request.app.get(ratelimit.LIMITER)) is not None:
        limiter.take_personal_data(request)  # refusals too: trying case after case is what a bulk read does
    repository = request.app[REPOSITORY]
    complaint = await repository.load(path_id(request, "complaint"), Complaint, "complaint")
    require_holding_department(principal, complaint.department)
    if principal.kind == "operator" and complaint.status != Status.RESOLVED:
        raise Problem(
            403, "Not awaiting a follow-up call",
            f"Operators open contact details for the follow-up call (回访) of a resolved complaint; this one is "
            f"{complaint.status}.", code="not_awaiting_follow_up",
        )  # fmt: skip
    if principal.kind == "department" and complaint.status not in HOLDING:
        raise Problem(
            403, "Not handling this complaint",
            f"A department opens contact details while it holds the case (dispatched, accepted or reopened); "
            f"this one is {complaint.status}.", code="not_handling",
        )  # fmt: skip
    if complaint.redacted:
        raise _erased()
    data = None
    if complaint.reporter_sealed is not None:
        try:
            key = await repository.personal_keys.get(complaint.id)
        except PG_DOWN as exc:
            raise DependencyUnavailable("PostgreSQL", f"cannot open the key: {type(exc).__name__}") from exc
        if key is None:
            raise _erased()
        data = unseal(complaint.reporter_sealed, key)
    # The token's id, never its name: a name may be a person's, and no log line carries one.
    log.info(
        "personal_data_opened", complaint_id=str(complaint.id), by=principal.role, token_id=principal.token_id
    )
    PERSONAL_DATA_OPENED.labels(principal.kind).inc()
    body: dict[str, Any] = {
        "id": str(complaint.id),
        "name": None,
        "phone": None,
        "email": None,
        "address": None,
    }
    if data is not None:
        body.update(name=data.name, phone=data.phone, email=data.email, address=data.address)
    return web.json_response(body, headers={"Cache-Control": "no-store, private"})


def _erased() -> Problem:
    return Problem(
        410, "Personal data erased", "This complaint's personal data was erased for good.", code="erased"
    )


_TEXT_OR_NULL = {"type": ["string", "null"]}
OPENAPI_PATHS: dict[str, Any] = {
    PATH: {"get": {
        "operationId": "complaint_contact", "tags": ["complaint commands"], "security": [{"bearer": []}],
        "summary": "The complainant's contact details, to call them back (every opening is logged)",
        "description": "Roles: operator (only a resolved complaint awaiting its follow-up call; else 403 "
                       "not_awaiting_follow_up), command, department:<code> (the department holding the case). "
                       "All null when the complaint came without a reporter; 410 once erased; 429 past 60 openings at "
                       "once or one every 10 s per token.",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string", "format": "uuid"}}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "name", "phone", "email", "address"],
                "properties": {"id": {"type": "string", "format": "uuid"}, "name": _TEXT_OR_NULL,
                               "phone": _TEXT_OR_NULL, "email": _TEXT_OR_NULL, "address": _TEXT_OR_NULL}}}}},
            **problem_responses(401, 403, 404, 410, 429, 503),
        },
    }},
}  # fmt: skip
