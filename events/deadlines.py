"""A complaint's open deadlines as a pure fold of its events: the one rule the watcher escalates on and
the read model's accept-by / resolve-by show (so the board's "overdue" is what the watcher sees missed).

The clocks (deadline lengths are the level's, from the reference data, never hard-coded here):
- accept (签收): the assessment's ``accept_by`` runs until the first dispatch is signed for; every later
  dispatch (after a return, or command's re-dispatch) opens a new one, ``accept_within`` from the dispatch.
- resolve (办结): sign-for starts it, ``resolve_within`` from the accept, or the time agreed with the caller
  (约定期限) when there is one; an agreed time set later replaces it; a granted extension moves it by the
  minutes granted; a reopen opens a new one, ``resolve_within`` from the reopen.
- a re-assessment that raises the level tightens the open deadline to ``now + within`` of the new level,
  but only one that has not passed yet: a missed deadline stays the one missed deadline it was.
- a return, a re-dispatch, a resolution or the case ending closes what is open.
A deadline is missed once ``now`` is past it and it was not closed in time: the facts are the events' own
timestamps, so the answer is the same however late, or however often, anyone asks.

Folding a watcher's ``ComplaintEscalated`` (``by`` is ``WATCHER``, the reason names the deadline) marks that
deadline's miss recorded; which misses to record, and at what level, is the dispatch service's rule
(services/dispatch/timeline.py). Only open deadlines ever change what a later event does, so a state without
its closed ones (``dormant``) folds on to the same open deadlines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from events.complaint import (
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintEscalated,
    ComplaintMarkedDuplicate,
    ComplaintReinstated,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
    DispatchReturned,
    ExtensionGranted,
    PriorityAssessed,
    ResolutionTimeAgreed,
)
from events.reference import Deadlines, Reference, load_reference

Kind = Literal["accept", "resolve"]
WATCHER = "deadline_watcher"  # the ``by`` of every escalation that records a missed deadline


@dataclass(frozen=True)
class Deadline:
    kind: Kind
    due: datetime
    source: str  # what opened it: assessed, dispatched, accepted, agreed, extended, reopened
    closed_at: datetime | None = None
    recorded: bool = False  # its miss is recorded (or waived once the case settled)
    # An accept-by a time agreed with the caller brought forward: what it was before (a later agreed time, or
    # none, puts it back); None when not brought forward.
    unbounded: datetime | None = None

    @property
    def may_miss(self) -> bool:
        """Open, or closed late: missed once `now` is past it."""
        return self.closed_at is None or self.closed_at > self.due

    def missed(self, now: datetime) -> bool:
        return now > self.due and self.may_miss

    @property
    def reason(self) -> str:
        return f"missed {self.kind}-by deadline {self.due.isoformat()}"


@dataclass(frozen=True)
class DeadlineState:
    complaint_id: UUID
    version: int = 0  # the last folded event's originator version: an event at or below it is already in
    level: str | None = None
    deadlines: tuple[Deadline, ...] = ()
    agreed_at: datetime | None = None
    # Signed for by the department holding it now (its resolve clock's start).
    accepted_at: datetime | None = None
    escalation_level: int = 0
    misses_recorded: int = 0
    settled: bool = False  # resolved or ended: a deadline missed before that is history, not news
    ended: bool = False  # rejected, duplicate or closed: nothing opens a deadline again

    def open(self, kind: Kind) -> Deadline | None:
        return next((d for d in self.deadlines if d.kind == kind and d.closed_at is None), None)

    def open_due(self, kind: Kind) -> datetime | None:
        """When the open deadline of ``kind`` falls due (None when none is open): the board's accept-by or
        resolve-by."""
        deadline = self.open(kind)
        return None if deadline is None else deadline.due

    def next_due(self) -> datetime | None:
        """When this complaint next needs a look: its earliest deadline still open."""
        open_dues = [d.due for d in self.deadlines if d.closed_at is None]
        return min(open_dues) if open_dues else None

    def next_look(self) -> datetime | None:
        """From when a look may find a miss to record: the earliest due time of a deadline not recorded and
        not met in time (missed once `now` is past it); None when nothing can ever be missed or it settled."""
        if self.settled:
            return None
        dues = [d.due for d in self.deadlines if not d.recorded and d.may_miss]
        return min(dues) if dues else None

    def unrecorded_misses(self, now: datetime) -> list[Deadline]:
        return sorted((d for d in self.deadlines if not d.recorded and d.missed(now)), key=lambda d: d.due)

    def dormant(self) -> DeadlineState:
        """Without the deadlines it can no longer miss: what a later reopen or dispatch still needs."""
        return dataclasses.replace(self, deadlines=tuple(d for d in self.deadlines if d.closed_at is None))

    @property
    def watched(self) -> bool:
        """Could a look ever find something to record: an open deadline, or a missed one not yet recorded."""
        return self.next_look() is not None


def fold(state: DeadlineState, event: Any, reference: Reference) -> DeadlineState:
    """The state after one more of the complaint's events (any event type; most change nothing)."""
    if event.originator_version <= state.version:
        return state  # already folded (the watcher may see an event both in a reload and in the stream)
    state = dataclasses.replace(state, version=event.originator_version)
    step = _STEPS.get(type(event))
    return step(state, event, reference) if step else state


def fold_all(complaint_id: UUID, events: Iterable[Any], reference: Reference | None = None) -> DeadlineState:
    """The state after all of a complaint's events; deadline lengths from ``reference`` (default: packaged)."""
    reference = reference or load_reference()
    state = DeadlineState(complaint_id)
    for event in events:
        state = fold(state, event, reference)
    return state


def agreeable_until(
    complaint_id: UUID, history: Iterable[Any], now: datetime, reference: Reference
) -> datetime | None:
    """The latest resolution time an operator may agree with the caller (约定期限) without command's approval:
    the resolve-by as the level, the sign-for, extensions and reopens make it, as the watcher has it (a time
    agreed before does not count: a new one may move within the level's time); not signed for yet, the level's
    resolve time from now. None before triage set a level."""
    state = fold_all(complaint_id, (e for e in history if not isinstance(e, ResolutionTimeAgreed)), reference)
    if state.level is None:
        return None
    due = state.open_due("resolve")
    return due if due is not None else now + _within(reference.deadlines(state.level), "resolve")


def extended_until(state: DeadlineState, now: datetime, minutes: int) -> datetime | None:
    """Where an extension of `minutes` granted now moves the open resolve-by (as `_extended` folds it); None when
    none is open."""
    current = state.open("resolve")
    return None if current is None else max(current.due, now) + timedelta(minutes=minutes)


# ---- one step per event type ------------------------------------------------------------------------


def _assessed(state: DeadlineState, e: PriorityAssessed, ref: Reference) -> DeadlineState:
    if state.level is None:
        state = dataclasses.replace(state, level=e.level)
        if state.settled:
            return state
        if state.accepted_at is not None:
            # Dispatched by hand ahead of triage and already signed for: its clock is the resolve clock, from
            # when it was accepted (unless a time agreed with the caller already runs).
            if state.open("resolve") is not None:
                return state
            if state.agreed_at is not None and state.agreed_at > state.accepted_at:  # agreed, still ahead
                return _open(state, Deadline("resolve", state.agreed_at, "agreed"))
            due = state.accepted_at + _within(ref.deadlines(e.level), "resolve")
            return _open(state, Deadline("resolve", due, "accepted"))
        return _open(state, _accept_by(state, e.accept_by, e.timestamp, "assessed"))
    # A re-assessment tightens only a deadline still ahead: re-opening a passed one would count its miss twice.
    within = ref.deadlines(e.level)
    tightened = tuple(
        _tightened(d, e.timestamp + _within(within, d.kind))
        if d.closed_at is None and d.due >= e.timestamp
        else d
        for d in state.deadlines
    )
    return dataclasses.replace(state, level=e.level, deadlines=tightened)


def _dispatched(state: DeadlineState, e: ComplaintDispatched, ref: Reference) -> DeadlineState:
    pending = state.open("accept")
    if pending is not None and pending.source == "assessed" and pending.due >= e.timestamp:
        # The first dispatch inherits the assessment's accept-by (the caller's wait started then) unless it
        # already passed: then that miss stays, and the department gets a clock of its own.
        return _replace(state, pending, dataclasses.replace(pending, source="dispatched"))
    state = _close(dataclasses.replace(state, accepted_at=None), ("accept",), e.timestamp)
    state = _close(state, ("resolve",), e.timestamp)
    if state.level is None:
        return state  # never assessed: triage's assessment opens the clock
    due = e.timestamp + _within(ref.deadlines(state.level), "accept")
    return _open(state, _accept_by(state, due, e.timestamp, "dispatched"))


def _accepted(state: DeadlineState, e: DispatchAccepted, ref: Reference) -> DeadlineState:
    state = _close(dataclasses.replace(state, accepted_at=e.timestamp), ("accept",), e.timestamp)
    if state.agreed_at is not None and state.agreed_at > e.timestamp:
        return _open(state, Deadline("resolve", state.agreed_at, "agreed"))
    # No time agreed, or it passed before this sign-for: that miss was the sign-for's (the accept clock ran
    # no later than the agreed time), and this department gets the level's own time, not a clock over at once.
    return _open_from(state, "resolve", e.timestamp, ref, "accepted")


def _returned(state: DeadlineState, e: DispatchReturned, ref: Reference) -> DeadlineState:
    return _close(dataclasses.replace(state, accepted_at=None), ("accept", "resolve"), e.timestamp)


def _extended(state: DeadlineState, e: ExtensionGranted, ref: Reference) -> DeadlineState:
    current = state.open("resolve")
    if current is None:
        return state
    # Granted after the deadline passed, the old one stays missed: closing it late keeps that fact. The new
    # time counts from the grant then, not from the passed deadline: it would be over before it began.
    state = _close(state, ("resolve",), e.timestamp)
    due = max(current.due, e.timestamp) + timedelta(minutes=e.minutes)
    return _open(state, Deadline("resolve", due, "extended"))


def _agreed(state: DeadlineState, e: ResolutionTimeAgreed, ref: Reference) -> DeadlineState:
    state = dataclasses.replace(state, agreed_at=e.agreed_at)
    if state.open("resolve") is None:
        # Not signed for yet: the accept opens the resolve clock at the agreed time, and a department that has
        # not signed for the case by then has missed it: the accept clock, if still ahead, runs to it at most.
        pending = state.open("accept")
        if pending is None or pending.due < e.timestamp:
            return state  # none open, or missed already: a missed deadline stays the one missed
        bounded = _accept_by(state, pending.unbounded or pending.due, e.timestamp, pending.source)
        return _replace(
            state, pending, dataclasses.replace(pending, due=bounded.due, unbounded=bounded.unbounded)
        )
    return _open(_close(state, ("resolve",), e.timestamp), Deadline("resolve", e.agreed_at, "agreed"))


def _settled(state: DeadlineState, e: Any, ref: Reference) -> DeadlineState:
    state = _close(state, ("accept", "resolve"), e.timestamp)
    waived = tuple(dataclasses.replace(d, recorded=True) for d in state.deadlines)
    ended = not isinstance(e, ComplaintResolved)
    return dataclasses.replace(state, deadlines=waived, settled=True, ended=ended)


def _reinstated(state: DeadlineState, e: ComplaintReinstated, ref: Reference) -> DeadlineState:
    # Command overruled the rejection: it was never assessed, so its assessment opens its first deadlines.
    return dataclasses.replace(state, settled=False, ended=False)


def _reopened(state: DeadlineState, e: ComplaintReopened, ref: Reference) -> DeadlineState:
    # A new round: the time agreed with the caller belonged to the last one (it may be days past). The case goes
    # back to its resolver, who owns it without signing for it again: as if accepted now.
    state = dataclasses.replace(state, settled=False, agreed_at=None, accepted_at=e.timestamp)
    return _open_from(state, "resolve", e.timestamp, ref, "reopened")


def _escalated(state: DeadlineState, e: ComplaintEscalated, ref: Reference) -> DeadlineState:
    state = dataclasses.replace(state, escalation_level=max(state.escalation_level, e.level))
    if e.by != WATCHER:
        return state  # staff's or dispatch's escalation: it records no deadline
    state = dataclasses.replace(state, misses_recorded=state.misses_recorded + 1)
    match = next((d for d in state.deadlines if not d.recorded and d.reason == e.reason), None)
    if match is None:
        # The deadline's length or rule changed since the miss was recorded (new reference data, an upgrade),
        # so its due time, and the reason naming it, moved. It is one not recorded yet and never met in time:
        # of the kind the reason names and missed by then, else any missed by then, else the first of that kind
        # (its new, longer time had not passed yet). Without this every overdue case in the city was escalated
        # again, to command, at the next start.
        kind = next((k for k in ("accept", "resolve") if e.reason.startswith(f"missed {k}-by ")), None)
        open_or_missed = [d for d in state.deadlines if not d.recorded and d.may_miss]
        missed = [d for d in open_or_missed if d.missed(e.timestamp)]
        ranked = (
            [d for d in missed if d.kind == kind] + missed + [d for d in open_or_missed if d.kind == kind]
        )
        match = ranked[0] if ranked else None
    return state if match is None else _replace(state, match, dataclasses.replace(match, recorded=True))


Step = Callable[[DeadlineState, Any, Reference], DeadlineState]
_STEPS: dict[type, Step] = {
    PriorityAssessed: _assessed, ComplaintDispatched: _dispatched, DispatchAccepted: _accepted,
    DispatchReturned: _returned, ExtensionGranted: _extended, ResolutionTimeAgreed: _agreed,
    ComplaintResolved: _settled, ComplaintRejected: _settled, ComplaintMarkedDuplicate: _settled,
    ComplaintClosed: _settled, ComplaintReopened: _reopened, ComplaintEscalated: _escalated,
    ComplaintReinstated: _reinstated,
}  # fmt: skip
# The events that change a complaint's deadlines; the watcher skips every other event unread.
DEADLINE_EVENTS: tuple[type, ...] = tuple(_STEPS)


def _within(deadlines: Deadlines, kind: Kind) -> timedelta:
    return deadlines.accept_within if kind == "accept" else deadlines.resolve_within


def _open_from(
    state: DeadlineState, kind: Kind, start: datetime, ref: Reference, source: str
) -> DeadlineState:
    if state.level is None:
        return state  # never assessed (settled on the call): no level, no clock
    return _open(state, Deadline(kind, start + _within(ref.deadlines(state.level), kind), source))


def _accept_by(state: DeadlineState, due: datetime, start: datetime, source: str) -> Deadline:
    """An accept-by no later than the time agreed with the caller, when that is still ahead of `start`: a case
    nobody has signed for when the caller's time comes has missed its deadline. It keeps the time it had before,
    for a later agreed time to put back."""
    agreed = state.agreed_at
    if agreed is not None and start < agreed < due:
        return Deadline("accept", agreed, source, unbounded=due)
    return Deadline("accept", due, source)


def _tightened(deadline: Deadline, due: datetime) -> Deadline:
    unbounded = None if deadline.unbounded is None else min(deadline.unbounded, due)
    return dataclasses.replace(deadline, due=min(deadline.due, due), unbounded=unbounded)


def _open(state: DeadlineState, deadline: Deadline) -> DeadlineState:
    return dataclasses.replace(state, deadlines=(*state.deadlines, deadline))


def _replace(state: DeadlineState, old: Deadline, new: Deadline) -> DeadlineState:
    index = state.deadlines.index(old)
    return dataclasses.replace(
        state, deadlines=(*state.deadlines[:index], new, *state.deadlines[index + 1 :])
    )


def _close(state: DeadlineState, kinds: tuple[Kind, ...], at: datetime) -> DeadlineState:
    deadlines = tuple(
        dataclasses.replace(d, closed_at=at) if d.closed_at is None and d.kind in kinds else d
        for d in state.deadlines
    )
    return dataclasses.replace(state, deadlines=deadlines)
