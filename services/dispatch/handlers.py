"""Dispatch's reactions to complaint events: one small function per event type.

Every decision reads the complaint's current state, never the event alone: a complaint staff already
dispatched, or one already escalated, is left as it is. That makes a redone batch (after a crash) and an
event seen twice harmless. app.py binds the keyword-only dependencies.
"""

from __future__ import annotations

from typing import Any

import structlog

from events.complaint import Complaint
from events.complaint_rules import Status
from events.reference import Reference
from services.dispatch.rules import RoutingTable, immediate_escalation, people_affected, route
from services.runtime.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

BY = "dispatch"
NEEDS_DISPATCH = frozenset({Status.PRIORITISED, Status.RETURNED})


async def on_complaint_validated(
    event: Any, uow: UnitOfWork, *, routing: RoutingTable, reference: Reference
) -> None:
    """A complaint validated after its assessment (or seen late) may already be ready to go."""
    await settle(await uow.get(event.originator_id, Complaint), routing=routing, reference=reference)


async def on_priority_assessed(
    event: Any, uow: UnitOfWork, *, routing: RoutingTable, reference: Reference
) -> None:
    await settle(await uow.get(event.originator_id, Complaint), routing=routing, reference=reference)


async def on_dispatch_returned(
    event: Any, uow: UnitOfWork, *, routing: RoutingTable, reference: Reference
) -> None:
    log.info("dispatch_returned", complaint_id=str(event.originator_id), department=event.department)
    await settle(await uow.get(event.originator_id, Complaint), routing=routing, reference=reference)


async def on_complaint_resolved(
    event: Any, uow: UnitOfWork, *, routing: RoutingTable, reference: Reference
) -> None:
    """A complaint settled on the call is never assessed nor dispatched: a major one (media exposure, mass impact)
    still goes up to command at once, as on assessment (found by a review: it never did)."""
    if event.outcome != "first_contact":
        return
    complaint = await uow.get(event.originator_id, Complaint)
    if complaint.status == Status.RESOLVED and complaint.priority_level is None:
        escalate_if_major(complaint, routing=routing)


async def settle(complaint: Complaint, *, routing: RoutingTable, reference: Reference) -> None:
    """Dispatch a complaint that waits for a department, and send a major one up to command."""
    # A returned case that triage never assessed (reopened after a first-contact answer) is routed all the same.
    assessed = complaint.priority_level is not None or complaint.status == Status.RETURNED
    if complaint.status in NEEDS_DISPATCH and assessed:
        dispatch_next(complaint, routing=routing, reference=reference)
    if complaint.is_open and complaint.status != Status.RECEIVED:
        escalate_if_major(complaint, routing=routing)


def dispatch_next(complaint: Complaint, *, routing: RoutingTable, reference: Reference) -> None:
    decision = route(
        routing, category=complaint.category, district=complaint.district, returned_by=complaint.returned_by
    )
    if decision is None:
        log.warning("dispatch_no_route", complaint_id=str(complaint.id), returned_by=complaint.returned_by)
        return
    complaint.dispatch(decision.department, by=BY, reason=decision.reason, reference=reference)
    # As every routine decision of a worker: in the stream and on the board, logged for debugging only.
    log.debug(
        "complaint_dispatched",
        complaint_id=str(complaint.id),
        department=decision.department,
        reason=decision.reason,
    )


def escalate_if_major(complaint: Complaint, *, routing: RoutingTable) -> None:
    escalation = immediate_escalation(
        routing,
        level=complaint.priority_level,
        media_exposure=complaint.media_exposure,
        people_affected=people_affected(complaint.people_affected, complaint.priority_factors),
    )
    if escalation is None or escalation.level <= complaint.escalation_level:
        return
    complaint.escalate(escalation.level, escalation.reason, by=BY)
    log.debug(
        "complaint_escalated",
        complaint_id=str(complaint.id),
        level=escalation.level,
        reason=escalation.reason,
    )
