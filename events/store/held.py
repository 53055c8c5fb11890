"""Aggregates with long histories, kept folded in memory so that reading one again costs only what is new.

An incident of a surge links thousands of complaints, one event each. Reading it from the stream for every
staff command took seconds (7,700 events: 0.4 s on an idle machine, 3.5 s in a drill), and triage links new
complaints meanwhile, so a command's save met a concurrent write and its retries read it all again. A store
that holds such an aggregate reads only the events written since it last looked, and hands out a copy made
at the cost of the aggregate's shape, not its size (its `twin`, events/twins.py): the held one is changed by
the stream's events only, never by a caller.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

# Events before an aggregate is worth holding: an incident in a surge, not a complaint (about ten events).
LONG_HISTORY = 200
# Events held in all, at most (an incident of 100,000 complaints holds about 10 MB, in each API store): the least recently read go.
HELD_EVENTS = 1_000_000


@dataclass
class Held:
    aggregate: Aggregate  # as stored up to `seq`; never handed out
    seq: int  # the stream sequence of its last event


class HeldAggregates:
    """Long-history aggregates as last read, least recently read first."""

    def __init__(self, *, long_history: int = LONG_HISTORY, max_events: int = HELD_EVENTS) -> None:
        self.long_history = long_history
        self.max_events = max_events
        self._held: OrderedDict[UUID, Held] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def get(self, aggregate_id: UUID) -> Held | None:
        held = self._held.get(aggregate_id)
        if held is not None:
            self._held.move_to_end(aggregate_id)
        return held

    def worth_holding(self, aggregate: Aggregate) -> bool:
        """Long enough, and able to make a twin (a copy that shares nothing a caller's command changes)."""
        return aggregate.version >= self.long_history and callable(getattr(aggregate, "twin", None))

    def hold(self, aggregate: Aggregate, seq: int) -> None:
        """Keep `aggregate` (read up to `seq`, and handed to no one), within the budget of events."""
        self._held[aggregate.id] = Held(aggregate, seq)
        self._held.move_to_end(aggregate.id)
        events = sum(held.aggregate.version for held in self._held.values())  # a few dozen held at most
        while events > self.max_events and len(self._held) > 1:
            _, dropped = self._held.popitem(last=False)
            events -= dropped.aggregate.version

    def forget(self, aggregate_id: UUID) -> None:
        self._held.pop(aggregate_id, None)


def copy_of(aggregate: Aggregate) -> Aggregate:
    """What a caller may change: the held aggregate's twin, restored (its growing lists cut to a copy)."""
    copy: Aggregate = aggregate.twin().restore()  # type: ignore[attr-defined]
    return copy
