"""The hotline operator's commands on an existing complaint, run by the shared command machinery.

Repeat calls, first-contact resolution, the agreed resolution time (约定期限), emergency transfers (life
first) and follow-up calls (回访). Each is one row in `OPERATOR_COMMANDS`; `services.api.commands` does the
role check, loading, object check, body check and the save with retry on a concurrent change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from events.complaint import Complaint
from events.complaint_rules import EMERGENCY_SERVICES
from events.deadlines import agreeable_until
from events.reference import load_reference
from services.api import commands
from services.api.commands import COMPLAINT_STATE, COMPLAINTS, Body, Command, Field
from services.api.operator_queries import notice_is_published
from services.api.operator_reference import guide
from services.api.principal import Principal
from services.api.problems import FieldError, Problem, invalid
from services.api.read_routes import reading

# A first-contact resolution is the hotline's own: the office that answers the calls resolves it.
OPERATOR_OFFICE = "hotline_office"
FOLLOW_UP_OUTCOMES = ("not_reached", "satisfied", "partly_satisfied", "not_satisfied")
ESCALATE_TO_COMMAND = 2


def by(principal: Principal) -> str:
    return f"{principal.role}:{principal.name}"


# -- answers must come from published facts ------------------------------------------------------------


async def check_answer_ref(request: web.Request, answer_ref: str) -> None:
    """`notice:<id>` of a notice as published now, or `answer:<code>` of a standard answer."""
    kind, _, ref = answer_ref.partition(":")
    if kind == "answer" and guide().answer(ref) is not None:
        return
    if kind == "notice":
        try:
            notice_id = UUID(ref)
        except ValueError:
            notice_id = None
        if notice_id is not None:
            async with reading(request) as conn:
                if await notice_is_published(conn, notice_id):
                    return
    raise invalid([FieldError("answer_ref", "must be notice:<id> of a published notice or answer:<code> "
                                            "of a standard answer")])  # fmt: skip


async def _check_first_contact(request: web.Request, complaint: Complaint, body: Body) -> None:
    await check_answer_ref(request, body["answer_ref"])


# -- agreed resolution time ----------------------------------------------------------------------------


def parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid([FieldError(name, "must be an ISO 8601 date-time")]) from None
    if parsed.tzinfo is None:
        raise invalid([FieldError(name, "must carry a time zone (e.g. +08:00 or Z)")])
    try:
        return parsed.astimezone(
            UTC
        )  # stored in UTC, as every other time: 9999-12-31T23:59-01:00 is not a time
    except OverflowError:
        raise invalid([FieldError(name, "is out of range")]) from None


async def _check_agreed_time(request: web.Request, complaint: Complaint, body: Body) -> None:
    body["agreed_at"] = parse_time(body["agreed_at"], "agreed_at")
    # "Not beyond the level's resolve-by" is the resolve-by the watcher and the board have now: after a sign-for,
    # a return, a reopen or an extension it is not the assessment's (found by a review: an operator could agree
    # 10 days past it unapproved, and was refused a time before it).
    history = await request.app[commands.REPOSITORY].history(complaint)
    body["due"] = agreeable_until(complaint.id, history, datetime.now(UTC), load_reference())
    if complaint.resolve_by is None or body["due"] is None:
        # Until triage has set the level's resolve-by, "not beyond resolve-by" cannot be checked: wait.
        raise Problem(
            409, "Not assessed yet", "The complaint has no resolve-by time yet; try again in a moment.",
            code="not_assessed_yet", headers={"Retry-After": "2"},
        )  # fmt: skip


def _agree(c: Complaint, b: Body, p: Principal) -> None:
    # Command staff's own call is their approval to go beyond the level's resolve-by.
    c.agree_resolution_time(
        b["agreed_at"], datetime.now(UTC), approved_by_command=p.kind == "command", due=b["due"]
    )


# -- life first ----------------------------------------------------------------------------------------


def transfer(c: Complaint, service: str, reason: str, who: str) -> None:
    """Record the transfer and send the case to command at once (it stays stored and handled)."""
    c.record_emergency_transfer(service, who, reason)
    if c.escalation_level < ESCALATE_TO_COMMAND:
        c.escalate(ESCALATE_TO_COMMAND, f"life first: caller transferred to {service}: {reason}", by=who)


# -- follow-up calls -----------------------------------------------------------------------------------


def follow_up_call(c: Complaint, outcome: str, reason: str, who: str, max_attempts: int) -> None:
    """One follow-up call. Not reached: an attempt (the last allowed one also records "not contacted").
    Not satisfied: reopened to whoever resolved it; a second reopening goes to command."""
    if outcome == "not_reached":
        c.attempt_follow_up(reason or "not reached")
        if c.follow_up_attempts >= max_attempts:
            c.record_follow_up(False, None, f"not reached after {c.follow_up_attempts} attempts")
        return
    if outcome == "not_satisfied" and not reason.strip():
        raise invalid([FieldError("reason", "say why the caller is not satisfied")])
    c.record_follow_up(True, outcome, reason)
    if outcome == "not_satisfied":
        c.reopen_and_escalate_repeats(reason, by=who)


OPERATOR_COMMANDS: tuple[Command[Complaint], ...] = (
    Command("repeat-calls", ("operator", "command"),
            (Field("note", max_length=1000),
             Field("channel", "choice", required=False, default="hotline", choices=("hotline", "walk_in", "social_media"))),
            lambda c, b, p: c.repeat_call(b["note"], b["channel"], reference=load_reference()),
            "Add a caller's new call to their open complaint (counts as a repeated call for priority)"),
    Command("first-contact-resolution", ("operator",),
            (Field("answer_ref", max_length=200, description="notice:<id> (published) or answer:<code>"),
             Field("summary", max_length=4000)),
            lambda c, b, p: c.resolve(OPERATOR_OFFICE, b["summary"], "first_contact", b["answer_ref"]),
            "Resolve on the call from a published notice or a standard answer", prepare=_check_first_contact),
    Command("agreed-resolution-time", ("operator", "command"),
            (Field("agreed_at", max_length=40, description="ISO 8601 with a time zone"),),
            _agree, "Record the resolution time agreed with the caller (beyond resolve-by: command only)",
            prepare=_check_agreed_time),
    Command("emergency-transfers", ("operator", "command"),
            (Field("service", "choice", choices=EMERGENCY_SERVICES), Field("reason", max_length=1000)),
            lambda c, b, p: transfer(c, b["service"], b["reason"], by(p)),
            "Record that the caller was transferred to 110/119/120; escalates to command"),
    Command("follow-up-calls", ("operator",),
            (Field("outcome", "choice", choices=FOLLOW_UP_OUTCOMES),
             Field("reason", required=False, default="", max_length=2000)),
            lambda c, b, p: follow_up_call(c, b["outcome"], b["reason"], by(p), guide().max_follow_up_attempts),
            "Record a follow-up call; not satisfied reopens to the resolving department"),
)  # fmt: skip


def _served_here(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    # The OpenAPI document finds a route's description through its handler's module: this one.
    async def handle(request: web.Request) -> web.Response:
        return await handler(request)

    return handle


def add_routes(app: web.Application) -> None:
    commands.ensure_repository(app)
    for command in OPERATOR_COMMANDS:
        app.router.add_post(
            f"{commands.API}/{COMPLAINTS.collection}/{{id}}/{command.action}",
            _served_here(commands.command_handler(COMPLAINTS, command)),
        )


OPENAPI_PATHS: dict[str, dict[str, Any]] = commands.openapi_paths(
    COMPLAINTS, OPERATOR_COMMANDS, COMPLAINT_STATE
)
