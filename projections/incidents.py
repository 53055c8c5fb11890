"""The `incidents` read model. Live counts (open, P1, overdue) are counted from `complaints` at read time."""

from __future__ import annotations

from functools import singledispatch

from events import incident as ev
from projections.ops import Op, SqlOp

TABLE = "incidents"

_DECLARE = (
    "INSERT INTO incidents (id, title, kind, districts, status, declared_by, declared_at, updated_at) "
    "VALUES ($1, $2, $3, $4, 'investigating', $5, $6, $6)"
)
_STATUS = "UPDATE incidents SET status = $2, updated_at = $3 WHERE id = $1"
_LINKED = "UPDATE incidents SET linked_complaints = linked_complaints + 1, updated_at = $2 WHERE id = $1"
# A merge moves the count: the absorbed incident's to its target (IncidentAbsorbed lists them, in parts).
_MERGED = "UPDATE incidents SET merged_into = $2, linked_complaints = 0, updated_at = $3 WHERE id = $1"
_ABSORBED = "UPDATE incidents SET linked_complaints = linked_complaints + $2, updated_at = $3 WHERE id = $1"
_RESPONSIBLE = "UPDATE incidents SET responsible = $2, responsible_since = $3, updated_at = $3 WHERE id = $1"


@singledispatch
def apply(event: object) -> list[Op]:
    return []


@apply.register
def _(event: ev.IncidentDeclared) -> list[Op]:
    args = (
        event.originator_id,
        event.title,
        event.kind,
        list(event.districts),
        event.declared_by,
        event.timestamp,
    )
    return [SqlOp(TABLE, _DECLARE, args, key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.IncidentStatusUpdated) -> list[Op]:
    return [
        SqlOp(
            TABLE,
            _STATUS,
            (event.originator_id, event.status, event.timestamp),
            key=(TABLE, event.originator_id),
        )
    ]


@apply.register
def _(event: ev.ComplaintAddedToIncident) -> list[Op]:
    return [SqlOp(TABLE, _LINKED, (event.originator_id, event.timestamp), key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.IncidentMerged) -> list[Op]:
    args = (event.originator_id, event.into, event.timestamp)
    return [SqlOp(TABLE, _MERGED, args, key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.IncidentAbsorbed) -> list[Op]:
    args = (event.originator_id, len(event.complaint_ids), event.timestamp)
    return [SqlOp(TABLE, _ABSORBED, args, key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.IncidentResponsibleAssigned) -> list[Op]:
    args = (event.originator_id, event.person, event.timestamp)
    return [SqlOp(TABLE, _RESPONSIBLE, args, key=(TABLE, event.originator_id))]
