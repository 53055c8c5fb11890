"""A complaint's deadlines as a pure fold of its events, and which escalations a missed deadline calls for.

A deadline is closed when it is met (accepted, resolved) or replaced (an extension, a re-assessment, the
case ending). It counts as missed once ``now`` is past it and it was not closed in time: the facts are the
events' own timestamps, so the answer is the same however late, or however often, the watcher asks.
The n-th missed deadline calls for escalation level n (1: department head, 2: command); the aggregate's
escalation level says which of those already happened, so none is ever asked for twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from events.complaint import (
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintMarkedDuplicate,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
    ExtensionGranted,
    PriorityAssessed,
    ResolutionTimeAgreed,
)
from services.dispatch.rules import COMMAND_LEVEL, Escalation

Kind = Literal["accept", "resolve"]
# The events that change a complaint's deadlines; the watcher skips every other event unread.
DEADLINE_EVENTS: tuple[type, ...] = (
    PriorityAssessed, DispatchAccepted, ExtensionGranted, ComplaintResolved, ComplaintReopened,
    ComplaintEscalated, ComplaintRejected, ComplaintMarkedDuplicate, ComplaintClosed, ResolutionTimeAgreed,
)  # fmt: skip
ENDING_EVENTS = (ComplaintRejected, ComplaintMarkedDuplicate, ComplaintClosed)


@dataclass(frozen=True)
class Deadline:
    kind: Kind
    due: datetime
    closed_at: datetime | None = None

    def missed(self, now: datetime) -> bool:
        return now > self.due and (self.closed_at is None or self.closed_at > self.due)


@dataclass(frozen=True)
class DeadlineState:
    complaint_id: UUID
    version: int = 0  # the last folded event's originator version: an event at or below it is already in
    deadlines: tuple[Deadline, ...] = ()
    accepted: bool = False
    escalation_level: int = 0
    settled: bool = False  # resolved or ended: a deadline missed before that is history, not news

    def next_due(self) -> datetime | None:
        """When this complaint next needs a look: its earliest deadline still open."""
        open_dues = [d.due for d in self.deadlines if d.closed_at is None]
        return min(open_dues) if open_dues else None

    def missed(self, now: datetime) -> list[Deadline]:
        return sorted((d for d in self.deadlines if d.missed(now)), key=lambda d: d.due)


def escalations_due(state: DeadlineState, now: datetime) -> list[Escalation]:
    """One escalation per missed deadline not yet answered: level 1 at the first miss, level 2 at the second."""
    if state.settled:
        return []
    missed = state.missed(now)[:COMMAND_LEVEL]
    return [
        Escalation(level, f"missed {deadline.kind}-by deadline {deadline.due.isoformat()}")
        for level, deadline in enumerate(missed, start=1)
        if level > state.escalation_level
    ]


def fold(state: DeadlineState, event: Any) -> DeadlineState:
    """The state after one more of the complaint's events (any event type; most change nothing)."""
    if event.originator_version <= state.version:
        return state  # already folded (the watcher may see an event both in a reload and in the stream)
    state = dataclasses.replace(state, version=event.originator_version)
    at: datetime = event.timestamp
    if isinstance(event, PriorityAssessed):
        kinds: tuple[Kind, ...] = ("resolve",) if state.accepted else ("accept", "resolve")
        state = _close(state, kinds, at)
        new = [Deadline("resolve", event.resolve_by)]
        if not state.accepted:
            new.insert(0, Deadline("accept", event.accept_by))
        return dataclasses.replace(state, deadlines=(*state.deadlines, *new))
    if isinstance(event, DispatchAccepted):
        return dataclasses.replace(_close(state, ("accept",), at), accepted=True)
    if isinstance(event, ExtensionGranted):
        state = _close(state, ("resolve",), at)
        return dataclasses.replace(state, deadlines=(*state.deadlines, Deadline("resolve", event.resolve_by)))
    if isinstance(event, ResolutionTimeAgreed):
        # The time agreed with the caller (约定期限) is the resolve-by the case is now held to.
        state = _close(state, ("resolve",), at)
        return dataclasses.replace(state, deadlines=(*state.deadlines, Deadline("resolve", event.agreed_at)))
    if isinstance(event, (ComplaintResolved, *ENDING_EVENTS)):
        return dataclasses.replace(_close(state, ("accept", "resolve"), at), settled=True)
    if isinstance(event, ComplaintReopened):
        return dataclasses.replace(state, settled=False)
    if isinstance(event, ComplaintEscalated):
        return dataclasses.replace(state, escalation_level=event.level)
    return state


def fold_all(complaint_id: UUID, events: Iterable[Any]) -> DeadlineState:
    state = DeadlineState(complaint_id)
    for event in events:
        state = fold(state, event)
    return state


def _close(state: DeadlineState, kinds: tuple[Kind, ...], at: datetime) -> DeadlineState:
    deadlines = tuple(
        dataclasses.replace(d, closed_at=at) if d.closed_at is None and d.kind in kinds else d
        for d in state.deadlines
    )
    return dataclasses.replace(state, deadlines=deadlines)
