"""The `complaints` read model: one row per complaint, as staff lists and the board need it.

Every time comes from the event (never the clock), so a replay writes exactly the same rows. The deadline
columns (accept_by, resolve_by) are the watcher's own fold, kept by projections/deadlines.py.
Sealed personal data (reporter_sealed, contact_hash) is never copied; the operator's caller history finds a
caller through `caller_key`, a hash of the keyed contact hash (events.personal.caller_key).
"""

from __future__ import annotations

import json
from functools import singledispatch
from typing import Any

from events import complaint as ev
from events.personal import caller_key
from events.reference import COMMAND_QUEUE
from events.writers import SQL_SYSTEM_WRITERS
from projections.ops import Op, SqlOp

TABLE = "complaints"

_INSERT = (
    "INSERT INTO complaints (id, version, updated_at, tracking_code, status, channel, category, district, lat, "
    "lon, people_affected, vulnerable, media_exposure, description, received_at, caller_key, call_started_at, "
    "public_description) "
    "VALUES ($1, $2, $3, $4, 'received', $5, $6, $7, $8, $9, $10, $11, $12, $13, $3, $14, $15, $16)"
)


def _set(event: Any, assignments: str, *values: Any) -> list[Op]:
    """UPDATE one complaint; `assignments` refer to `values` as $4, $5, ..."""
    sql = f"UPDATE complaints SET {assignments}, version = $2, updated_at = $3 WHERE id = $1"
    args = (event.originator_id, event.originator_version, event.timestamp, *values)
    return [SqlOp(TABLE, sql, args, key=(TABLE, event.originator_id))]


@singledispatch
def apply(event: object) -> list[Op]:
    return []


@apply.register
def _(event: ev.ComplaintReceived) -> list[Op]:
    args = (
        event.originator_id, event.originator_version, event.timestamp, event.tracking_code, event.channel,
        event.category, event.district, event.lat, event.lon, event.people_affected, list(event.vulnerable),
        event.media_exposure, event.description,
        caller_key(event.contact_hash) if event.contact_hash else None, event.call_started_at,
        event.public_description,
    )  # fmt: skip
    return [SqlOp(TABLE, _INSERT, args, key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.ComplaintValidated) -> list[Op]:
    # v2: the category triage settled on (classified when the reporter gave none); None keeps the row's.
    if event.category is None:
        return _set(event, "status = 'validated'")
    return _set(event, "status = 'validated', category = $4", event.category)  # plain: a rebuild folds it


@apply.register
def _(event: ev.ComplaintRejected) -> list[Op]:
    return _set(event, "status = 'rejected', closed_at = $3, rejection_reason = $4", event.reason)


@apply.register
def _(event: ev.ComplaintReinstated) -> list[Op]:
    # Command overruled the rejection: open again, validated; None keeps the row's category or district. A district
    # given replaces a wrong location: the point is dropped (and so leaves the map).
    return _set(
        event,
        "status = 'validated', closed_at = NULL, rejection_reason = NULL, category = COALESCE($4, category), "
        "district = COALESCE($5, district), lat = CASE WHEN $5::text IS NULL THEN lat END, "
        "lon = CASE WHEN $5::text IS NULL THEN lon END",
        event.category, event.district,
    )  # fmt: skip


@apply.register
def _(event: ev.ComplaintMarkedDuplicate) -> list[Op]:
    return _set(event, "status = 'duplicate', duplicate_of = $4, closed_at = $3", event.of_complaint_id)


@apply.register
def _(event: ev.ComplaintLinkedToIncident) -> list[Op]:
    return _set(event, "incident_id = $4", event.incident_id)


@apply.register
def _(event: ev.ComplaintMovedToIncident) -> list[Op]:
    return _set(event, "incident_id = $4", event.incident_id)  # its incident was merged into this one


@apply.register
def _(event: ev.PriorityAssessed) -> list[Op]:
    # Re-assessment keeps the case where it is; only a validated complaint moves on (as the aggregate does).
    return _set(
        event,
        "status = CASE WHEN status = 'validated' THEN 'prioritised' ELSE status END, "
        "score = $4, level = $5, factors = $6::jsonb",
        event.score, event.level, json.dumps(event.factors, default=str),
    )  # fmt: skip


# A new department has not signed for it: the last one's accepted_at would show "accepted" on the public page.
_DISPATCHED = (
    "status = 'dispatched', department = $4, dispatched_at = $3, dispatch_count = dispatch_count + 1, "
    "extension_pending = false, accepted_at = NULL"
)


@apply.register
def _(event: ev.ComplaintDispatched) -> list[Op]:
    if event.department == COMMAND_QUEUE:  # with command since then, and why (the board sorts on it)
        queued = ", queued_at = $3, queued_why = $5, queued_version = $2, queued_by = $6"
        return _set(event, _DISPATCHED + queued, event.department, event.reason, event.by)
    return _set(event, _DISPATCHED, event.department)


@apply.register
def _(event: ev.DispatchAccepted) -> list[Op]:
    return _set(event, "status = 'accepted', accepted_at = $3")


@apply.register
def _(event: ev.DispatchReturned) -> list[Op]:
    return _set(
        event,
        "status = 'returned', department = NULL, return_count = return_count + 1, extension_pending = false, "
        "accepted_at = NULL",
    )


@apply.register
def _(event: ev.ExtensionRequested) -> list[Op]:
    return _set(event, "extension_pending = true")


@apply.register
def _(event: ev.ExtensionGranted) -> list[Op]:
    return _set(event, "extension_pending = false, extensions_granted = extensions_granted + 1")


@apply.register
def _(event: ev.ExtensionDenied) -> list[Op]:
    return _set(event, "extension_pending = false")


@apply.register
def _(event: ev.ProgressNoted) -> list[Op]:
    return _set(event, "status = status")


@apply.register
def _(event: ev.ComplaintEscalated) -> list[Op]:
    if event.level >= 2:  # to command: since then, and why (the board sorts on it)
        to_command = ", escalated_at = $3, escalated_why = $5, escalated_version = $2, escalated_by = $6"
        return _set(event, "escalation_level = $4" + to_command, event.level, event.reason, event.by)
    return _set(event, "escalation_level = $4", event.level)


@apply.register
def _(event: ev.ComplaintResponsibleAssigned) -> list[Op]:
    return _set(event, "responsible = $4, responsible_since = $3", event.person)


@apply.register
def _(event: ev.ComplaintResolved) -> list[Op]:
    return _set(
        event,
        "status = 'resolved', resolved_at = $3, resolved_by = $4, first_contact = $5, extension_pending = false, "
        "first_contact_answer = $6",
        event.department, event.outcome == "first_contact",
        event.answer_ref if event.outcome == "first_contact" else None,
    )  # fmt: skip


@apply.register
def _(event: ev.FollowUpRecorded) -> list[Op]:
    if not event.contacted:
        return _set(event, "status = status")
    # `satisfaction` is the latest answer, cleared by a reopening; every answer is also counted for good (rates).
    column = _ANSWERED.get(event.satisfaction or "")
    counted = f", {column} = {column} + 1" if column else ""
    return _set(event, "status = 'followed_up', satisfaction = $4" + counted, event.satisfaction)


_ANSWERED = {
    "satisfied": "answered_satisfied", "partly_satisfied": "answered_partly",
    "not_satisfied": "answered_not_satisfied",
}  # fmt: skip


@apply.register
def _(event: ev.FollowUpAttempted) -> list[Op]:
    return _set(event, "follow_up_attempts = $4", event.attempt)


@apply.register
def _(event: ev.ComplaintReopened) -> list[Op]:
    return _set(
        event,
        "status = 'reopened', department = $4, reopen_count = reopen_count + 1, resolved_at = NULL, "
        "satisfaction = NULL, first_contact = false, first_contact_answer = NULL, follow_up_attempts = 0, "
        "agreed_resolution_at = NULL",  # the time agreed in the last round is days past: not read out again
        event.department,
    )


@apply.register
def _(event: ev.ComplaintClosed) -> list[Op]:
    return _set(event, "status = 'closed', closed_at = $3")


@apply.register
def _(event: ev.ComplaintCallRepeated) -> list[Op]:
    return _set(event, "repeat_calls = repeat_calls + 1")


@apply.register
def _(event: ev.ResolutionTimeAgreed) -> list[Op]:
    return _set(event, "agreed_resolution_at = $4", event.agreed_at)


# On erasure, the board's "why with command" keeps what the system wrote (events/writers.py: a missed deadline, a major
# complaint, no route) and the step of what a person wrote ("reopened 2 times", "life first: caller transferred
# to 119": the domain's and the operator desk's own words before the person's), never a person's words: any may
# quote the caller.
_ERASED_BY_HAND = "by hand (its reason was erased with the personal data)"
_PERSONS_STEP = "^(reopened [0-9]+ times|life first: caller transferred to [0-9]+): "
_ESCALATED_WHY_ERASED = (
    "CASE WHEN escalated_why IS NULL THEN NULL "
    f"WHEN escalated_by IN {SQL_SYSTEM_WRITERS} AND escalated_why NOT LIKE 'reopened %' THEN escalated_why "
    f"WHEN escalated_why ~ '{_PERSONS_STEP}' THEN regexp_replace(escalated_why, '{_PERSONS_STEP}.*$', '\\1') "
    f"ELSE 'escalated {_ERASED_BY_HAND}' END"
)
_QUEUED_WHY_ERASED = (
    f"CASE WHEN queued_why IS NULL OR queued_by IN {SQL_SYSTEM_WRITERS} THEN queued_why "
    f"ELSE 'sent to command {_ERASED_BY_HAND}' END"
)


@apply.register
def _(event: ev.ComplaintRedacted) -> list[Op]:
    # The key that sealed the reporter's data is gone; the free text may name them too, so it goes as well,
    # and so do the words of the board's reasons (above).
    return _set(
        event,
        "redacted = true, description = '', public_description = '', caller_key = NULL, "
        f"escalated_why = {_ESCALATED_WHY_ERASED}, queued_why = {_QUEUED_WHY_ERASED}",
    )


@apply.register
def _(event: ev.EmergencyTransferRecorded) -> list[Op]:
    return _set(event, "emergency_service = $4, emergency_transferred_at = $3", event.service)
