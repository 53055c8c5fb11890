"""The complaint row's `accept_by` / `resolve_by`: the deadlines open now, by the very fold the deadline watcher
escalates on (events/deadlines.py), so the board's "overdue" is what the watcher sees missed.

The fold needs the complaint's history, which one event does not carry: its small state (level, agreed time,
the open deadlines) is kept in the row as `deadline_state`, and each event that can change a deadline folds
it on (a `Derive` op). Closed deadlines are dropped from it: only open ones change what a later event does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from functools import singledispatch
from typing import Any
from uuid import UUID

import structlog

from events.deadlines import DEADLINE_EVENTS, Deadline, DeadlineState, fold
from events.reference import load_reference
from projections.ops import Derive, Op

log = structlog.get_logger(__name__)

TABLE = "complaints"
COLUMNS = ("deadline_state", "accept_by", "resolve_by")


@singledispatch
def apply(event: object) -> list[Op]:
    return []


def _derive(event: Any) -> list[Op]:
    return [Derive(TABLE, event.originator_id, COLUMNS, fold_row, event)]


for _event_class in DEADLINE_EVENTS:
    apply.register(_event_class, _derive)


def fold_row(values: Mapping[str, Any], event: Any) -> dict[str, Any]:
    """The row's deadline columns after `event`. The deadline lengths are the process's reference data
    (LEVEE_REFERENCE, configured at the entry point as for the watcher; else the packaged one)."""
    before = load_state(values["deadline_state"], event.originator_id)
    try:
        state = fold(before, event, load_reference()).dormant()
    except Exception as exc:
        # Unfoldable (a level the reference does not know): the board keeps the deadlines it had rather than
        # stop for everyone; the watcher logs the same event as unfoldable.
        log.error("projection_deadline_unfoldable", complaint_id=str(event.originator_id),
                  kind=type(event).__name__, error=repr(exc)[:500])  # fmt: skip
        return {column: values[column] for column in COLUMNS}
    return {
        "deadline_state": dump_state(state),
        "accept_by": state.open_due("accept"),
        "resolve_by": state.open_due("resolve"),
    }


def dump_state(state: DeadlineState) -> str:
    return json.dumps(
        {
            "version": state.version,
            "level": state.level,
            "agreed_at": _iso(state.agreed_at),
            "accepted_at": _iso(state.accepted_at),
            "escalation_level": state.escalation_level,
            "misses_recorded": state.misses_recorded,
            "settled": state.settled,
            "ended": state.ended,
            "deadlines": [
                [d.kind, d.due.isoformat(), d.source, _iso(d.closed_at), d.recorded, _iso(d.unbounded)]
                for d in state.deadlines
            ],
        },
        sort_keys=True,
    )


def load_state(text: str | None, complaint_id: UUID) -> DeadlineState:
    if text is None:
        return DeadlineState(complaint_id)
    data = json.loads(text)
    deadlines = tuple(
        Deadline(
            kind,
            datetime.fromisoformat(due),
            source,
            _at(closed_at),
            recorded,
            _at(rest[0] if rest else None),
        )
        for kind, due, source, closed_at, recorded, *rest in data["deadlines"]  # rest: none before 2026-12-07
    )
    return dataclasses.replace(
        DeadlineState(complaint_id),
        version=data["version"],
        level=data["level"],
        agreed_at=_at(data["agreed_at"]),
        accepted_at=_at(data.get("accepted_at")),  # rows stored before it: the next event sets it
        escalation_level=data["escalation_level"],
        misses_recorded=data["misses_recorded"],
        settled=data["settled"],
        ended=data["ended"],
        deadlines=deadlines,
    )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
