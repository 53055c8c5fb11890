"""Public notice commands: press officers draft, revise, publish, update and cancel; command staff approve.

The aggregate holds the rules (publish only an approved text; the last author may not approve it), so a
refused step is a 409 problem naming what is missing. Answers carry the notice's state, never its text's
history or anyone's personal data.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from aiohttp import web

from events.incident import INCIDENT_STATUSES, Incident
from events.incident_rules import check_not_merged
from events.notice import Notice
from events.publishing.redaction import check_publishable
from events.reference import load_reference
from services.api import idempotency, known_personal_data
from services.api.auth import requires
from services.api.commands import (
    API,
    KNOWN,
    REPOSITORY,
    Body,
    Command,
    Field,
    Target,
    add_command_routes,
    asked,
    created_earlier,
    new_id,
    openapi_paths,
    operation,
    read_body,
    replayed,
    save_created,
)
from services.api.principal import PRINCIPAL, Principal
from services.api.problems import FieldError, Problem, invalid

log = structlog.get_logger(__name__)

TEXT_FIELDS = (
    Field("title_en", max_length=200), Field("title_zh", max_length=200),
    Field("body_en", max_length=8000), Field("body_zh", max_length=8000),
    Field("status", "choice", choices=INCIDENT_STATUSES),
)  # fmt: skip
# What the approver read: the staff list gives each notice's `text_sha256` (events.notice.text_digest).
APPROVAL_SEEN = Field(
    "text_sha256", max_length=64,
    description="text_sha256 of the text approved, from GET /api/v1/staff/notices: refused if it changed since",
)  # fmt: skip
DRAFT_FIELDS = (Field("incident_id", "uuid", required=False, nullable=True), *TEXT_FIELDS)


def notice_summary(notice: Notice) -> dict[str, Any]:
    return {"id": str(notice.id), "state": str(notice.state), "status": notice.status,
            "version": notice.version, "published_version": notice.published_version}  # fmt: skip


def _anyone(principal: Principal, notice: Notice) -> None:
    """Notices are public text with no owner; the role check is the whole check."""


def _text(body: Body) -> dict[str, str]:
    return {name: body[name] for name in ("title_en", "title_zh", "body_en", "body_zh", "status")}


async def _look_up_known(request: web.Request, notice: Notice, body: Body) -> None:
    repository = request.app[REPOSITORY]
    body[KNOWN] = await known_personal_data.for_incident(
        notice.incident_id, repository.aggregates(), repository.personal_keys, repository.sealed_reporters
    )


def _publish(notice: Notice, body: Body) -> None:
    """The redaction guard runs on every try: after a conflict the reloaded notice may hold another text. It
    runs only on approved text: its findings would otherwise answer guesses about who complained."""
    notice.require_publishable()
    check_publishable(
        {f: getattr(notice, f) for f in ("title_en", "title_zh", "body_en", "body_zh")}, body[KNOWN],
        load_reference().public_numbers,
    )  # fmt: skip
    notice.publish()


NOTICES: Target[Notice] = Target("notice", "notices", Notice, _anyone, notice_summary, "notices")
NOTICE_COMMANDS: tuple[Command[Notice], ...] = (
    Command("revise", ("press",), TEXT_FIELDS, lambda n, b, p: n.revise(**_text(b), revised_by=p.name),
            "Change a text not yet published (approval is needed again)"),
    Command("approve", ("command",), (APPROVAL_SEEN,), lambda n, b, p: n.approve(by=p.name, seen=b["text_sha256"]),
            "Approve the text read (not by its last author): 409 text_changed if it changed since"),
    Command("publish", ("press",), (), lambda n, b, p: _publish(n, b),
            "Publish the approved text, unless it carries personal data (a phone, an ID number, an email, or "
            "a name or address of a complainant linked to the incident: 422 says what and where)",
            prepare=_look_up_known),
    Command("update", ("press",), TEXT_FIELDS, lambda n, b, p: n.update(**_text(b), updated_by=p.name),
            "Change a published notice (public text stays until the change is approved and published)"),
    Command("cancel", ("press",), (Field("reason", max_length=1000),),
            lambda n, b, p: n.cancel(b["reason"], by=p.name), "Withdraw the notice"),
)  # fmt: skip


@requires("press")
async def draft(request: web.Request) -> web.Response:
    """With an Idempotency-Key the notice's id is the request's (commands.save_created): one draft however
    often the request is sent. A retry is answered before the incident is checked again: merged since, it
    would refuse a draft that was made."""
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    body = await read_body(request, DRAFT_FIELDS)
    repo = request.app[REPOSITORY]
    mark = asked(request, key, body)
    earlier = await created_earlier(repo, mark, Notice)
    if earlier is not None:
        return replayed(notice_summary(earlier), status=201)
    if body["incident_id"] is not None:
        await _check_incident(request, body["incident_id"])
    notice = Notice.draft(
        incident_id=body["incident_id"], **_text(body), drafted_by=request[PRINCIPAL].name,
        id=new_id(mark),
    )  # fmt: skip
    earlier = await save_created(repo, notice, mark, "notice")
    if earlier is not None:
        return replayed(notice_summary(earlier), status=201)
    log.info("notice_drafted", id=str(notice.id))
    return web.json_response(notice_summary(notice), status=201)


async def _check_incident(request: web.Request, incident_id: UUID) -> None:
    try:
        incident = await request.app[REPOSITORY].load(incident_id, Incident, "incident")
    except Problem as problem:
        if problem.status != 404:
            raise
        raise invalid([FieldError("incident_id", "no incident has this id")]) from None
    check_not_merged(incident)  # its complaints are the other one's now: a notice speaks to them there


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{API}/notices", draft)
    add_command_routes(app, NOTICES, NOTICE_COMMANDS)


NOTICE_STATE: dict[str, Any] = {
    "type": "object", "required": ["id", "state", "version"],
    "properties": {"id": {"type": "string", "format": "uuid"},
                   "state": {"type": "string", "enum": ["draft", "approved", "published", "updated", "cancelled"]},
                   "status": {"type": "string"}, "version": {"type": "integer"}, "published_version": {"type": "integer"}},
}  # fmt: skip
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    f"{API}/notices": {"post": operation(
        operation_id="notice_draft", summary="Draft a public notice", roles=("press",), fields=DRAFT_FIELDS, tag="notices",
        result=NOTICE_STATE, created=True, with_id=False, keyed=True)},
    **openapi_paths(NOTICES, NOTICE_COMMANDS, NOTICE_STATE),
}  # fmt: skip
