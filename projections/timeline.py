"""`complaint_timeline`: one row per complaint event, and `hotspots`: complaints per district x category x hour.

The timeline's `detail` keeps only what staff need to read the history; intake text and sealed data stay out.
Only notes a department marked public are public (the `public_progress` view).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import singledispatch
from typing import Any

from events import complaint as ev
from events.writers import SQL_SYSTEM_WRITERS
from projections.ops import Append, Count, Op, SqlOp

COLUMNS = ("complaint_id", "version", "at", "kind", "department", "public", "detail")

# Which fields of each event the history shows. Anything not listed is left out on purpose.
DETAIL: dict[type, tuple[str, ...]] = {
    ev.ComplaintReceived: ("channel", "category", "district", "people_affected", "media_exposure"),
    ev.ComplaintValidated: ("by",),
    ev.ComplaintRejected: ("reason", "by"),
    ev.ComplaintReinstated: ("reason", "by", "category", "district"),
    ev.ComplaintMarkedDuplicate: ("of_complaint_id",),
    ev.ComplaintLinkedToIncident: ("incident_id",),
    ev.ComplaintMovedToIncident: ("incident_id", "from_incident_id"),
    ev.PriorityAssessed: ("score", "level", "accept_by", "resolve_by"),
    ev.ComplaintDispatched: ("by", "reason"),
    ev.DispatchAccepted: (),
    ev.DispatchReturned: ("reason",),
    ev.ExtensionRequested: ("minutes", "reason"),
    ev.ExtensionGranted: ("by", "minutes", "resolve_by"),
    ev.ExtensionDenied: ("by", "reason"),
    ev.ProgressNoted: ("text",),
    ev.ComplaintEscalated: ("level", "reason", "by"),
    ev.ComplaintResponsibleAssigned: ("person", "previous", "by", "note"),
    ev.ComplaintResolved: ("summary", "outcome", "answer_ref"),
    ev.FollowUpRecorded: ("contacted", "satisfaction", "comment"),
    ev.FollowUpAttempted: ("note", "attempt"),
    ev.ComplaintReopened: ("reason",),
    ev.ComplaintClosed: (),
    ev.ComplaintCallRepeated: ("note", "channel"),
    ev.ResolutionTimeAgreed: ("agreed_at", "approved_by_command"),
    ev.ComplaintRedacted: ("reason",),
    ev.EmergencyTransferRecorded: ("service", "by", "reason"),
}

_HOTSPOT = (
    "INSERT INTO hotspots (district, category, hour, received) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (hour, district, category) DO UPDATE SET received = hotspots.received + EXCLUDED.received"
)


def _encoder() -> Callable[[Any], str]:
    """`json.dumps(value, default=str, ensure_ascii=False)`, with json's C encoder made once rather than on
    every call (a third of the cost of a timeline row's small dict). No circular check: details are flat."""
    make = getattr(json.encoder, "c_make_encoder", None)  # CPython's accelerator, when present
    if make is None:
        return json.JSONEncoder(default=str, ensure_ascii=False).encode
    encode = make(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


_ENCODE = _encoder()
# On erasure, every free text a person typed about the case, for any of it may quote the caller: notes (public
# ones leave the public pages too), summaries, comments, and the reasons people gave (a return's or an
# extension's is the department's; a dispatch's or an escalation's, unless the system wrote it: events/writers.py).
# What the system wrote stays, as do the steps themselves and the erasure's own reason.
_FORGET_CALLER_TEXT = (
    "UPDATE complaint_timeline SET public = false, "
    "detail = detail - 'comment' - 'note' - 'text' - 'summary' - CASE "
    "WHEN kind IN ('ComplaintRejected', 'ComplaintRedacted') THEN '' "
    "WHEN kind IN ('ComplaintDispatched', 'ComplaintEscalated') "
    f"AND detail ->> 'by' IN {SQL_SYSTEM_WRITERS} "
    "AND detail ->> 'reason' NOT LIKE 'reopened %' THEN '' "
    "ELSE 'reason' END "
    "WHERE complaint_id = $1 AND version < $2"
)


def timeline_row(event: Any) -> Append:
    detail = {}
    for name in DETAIL.get(type(event), ()):
        value = getattr(event, name)
        detail[name] = value.isoformat() if isinstance(value, datetime) else value
    department = getattr(event, "department", None)
    row = (
        event.originator_id, event.originator_version, event.timestamp, type(event).__name__, department,
        bool(getattr(event, "public", False)), _ENCODE(detail),
    )  # fmt: skip
    return Append("complaint_timeline", COLUMNS, row)


@singledispatch
def apply(event: object) -> list[Op]:
    return []


@apply.register
def _(event: ev.Complaint.Event) -> list[Op]:
    return [timeline_row(event)]


@apply.register
def _(event: ev.ComplaintReceived) -> list[Op]:
    hour = event.timestamp.replace(minute=0, second=0, microsecond=0)
    # Counts commute: the runner adds up a batch's counts per district, category and hour.
    hotspot = Count("hotspots", _HOTSPOT, (event.district or "unknown", event.category or "unknown", hour, 1))
    return [timeline_row(event), hotspot]


@apply.register
def _(event: ev.ComplaintRedacted) -> list[Op]:
    forget = SqlOp(
        "complaint_timeline",
        _FORGET_CALLER_TEXT,
        (event.originator_id, event.originator_version),
        key=("timeline", event.originator_id),
    )
    return [timeline_row(event), forget]
