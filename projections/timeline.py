"""`complaint_timeline`: one row per complaint event, and `hotspots`: complaints per district x category x hour.

The timeline's `detail` keeps only what staff need to read the history; intake text and sealed data stay out.
Only notes a department marked public are public (the `public_progress` view).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import singledispatch
from typing import Any

from events import complaint as ev
from projections.ops import Append, Op, SqlOp

COLUMNS = ("complaint_id", "version", "at", "kind", "department", "public", "detail")

# Which fields of each event the history shows. Anything not listed is left out on purpose.
DETAIL: dict[type, tuple[str, ...]] = {
    ev.ComplaintReceived: ("channel", "category", "district", "people_affected", "media_exposure"),
    ev.ComplaintValidated: ("by",),
    ev.ComplaintRejected: ("reason", "by"),
    ev.ComplaintMarkedDuplicate: ("of_complaint_id",),
    ev.ComplaintLinkedToIncident: ("incident_id",),
    ev.PriorityAssessed: ("score", "level", "accept_by", "resolve_by"),
    ev.ComplaintDispatched: ("by", "reason"),
    ev.DispatchAccepted: (),
    ev.DispatchReturned: ("reason",),
    ev.ExtensionRequested: ("minutes", "reason"),
    ev.ExtensionGranted: ("by", "minutes", "resolve_by"),
    ev.ExtensionDenied: ("by", "reason"),
    ev.ProgressNoted: ("text",),
    ev.ComplaintEscalated: ("level", "reason", "by"),
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
# Free text a caller may have dictated; dropped from the history when the complaint is redacted.
CALLER_TEXT = ("comment", "note")

_HOTSPOT = (
    "INSERT INTO hotspots (district, category, hour, received) VALUES ($1, $2, $3, 1) "
    "ON CONFLICT (hour, district, category) DO UPDATE SET received = hotspots.received + 1"
)
_FORGET_CALLER_TEXT = "UPDATE complaint_timeline SET detail = detail - 'comment' - 'note' WHERE complaint_id = $1 AND version < $2"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def timeline_row(event: Any) -> Append:
    fields = DETAIL.get(type(event), ())
    detail = {name: _jsonable(getattr(event, name)) for name in fields}
    department = getattr(event, "department", None)
    row = (
        event.originator_id, event.originator_version, event.timestamp, type(event).__name__, department,
        bool(getattr(event, "public", False)), json.dumps(detail, default=str, ensure_ascii=False),
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
    # Increments commute, so the op has no key: the runner may batch them with any other.
    hotspot = SqlOp("hotspots", _HOTSPOT, (event.district or "unknown", event.category or "unknown", hour))
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
