"""Aggregates with long histories, kept folded in memory so that reading one again costs only what is new.

An incident of a surge links thousands of complaints, one event each. Reading it from the stream for every
staff command took seconds (7,700 events: 0.4 s on an idle machine, 3.5 s in a drill), and triage links new
complaints meanwhile, so a command's save met a concurrent write and its retries read it all again. A store
that holds such an aggregate reads only the events written since it last looked, and hands out a copy made
by the aggregate's `twin` (events/twins.py: its growing lists copied by one slice, nothing folded again): the
held one is changed by the stream's events only, never by a caller.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

# Events before an aggregate is worth holding: an incident in a surge, not a complaint (about ten events).
LONG_HISTORY = 200
# Held in all, at most, counted in events and linked complaint ids (about 110 bytes each: 55 MB for the budget,
# one incident of 100,000 complaints 11 MB); the least recently read go first.
HELD_SIZE = 500_000


@dataclass
class Held:
    aggregate: Aggregate  # as stored up to `seq`; never handed out
    seq: int  # the stream sequence of its last event


class HeldAggregates:
    """Long-history aggregates as last read, least recently read first."""

    def __init__(
        self,
        *,
        kinds: tuple[type[Aggregate], ...],
        long_history: int = LONG_HISTORY,
        max_size: int = HELD_SIZE,
    ) -> None:
        self.kinds = kinds  # only these (each with a `twin`): never what a caller happened to ask for by id
        self.long_history = long_history
        self.max_size = max_size
        self._held: OrderedDict[UUID, Held] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def get(self, aggregate_id: UUID) -> Held | None:
        held = self._held.get(aggregate_id)
        if held is not None:
            self._held.move_to_end(aggregate_id)
        return held

    def worth_holding(self, aggregate: Aggregate) -> bool:
        """Of a kind held (each can make a twin: a copy that shares nothing a caller's command changes), and
        long enough."""
        return type(aggregate) in self.kinds and aggregate.version >= self.long_history

    def hold(self, aggregate: Aggregate, seq: int) -> None:
        """Keep `aggregate` (read up to `seq`, and handed to no one), within the budget of events."""
        self._held[aggregate.id] = Held(aggregate, seq)
        self._held.move_to_end(aggregate.id)
        self.trim()

    def trim(self) -> None:
        """Within the budget again (a held incident grows as triage links reports): the least recently read go,
        never the last one read."""
        size = sum(size_of(held.aggregate) for held in self._held.values())  # a few dozen held at most
        while size > self.max_size and len(self._held) > 1:
            _, dropped = self._held.popitem(last=False)
            size -= size_of(dropped.aggregate)

    def forget(self, aggregate_id: UUID) -> None:
        self._held.pop(aggregate_id, None)


def size_of(aggregate: Aggregate) -> int:
    """Its events, and the complaints it links: a merge's IncidentAbsorbed carries hundreds in one event."""
    return aggregate.version + len(getattr(aggregate, "complaint_ids", ()))


def copy_of(aggregate: Aggregate) -> Aggregate:
    """What a caller may change: the held aggregate's twin, restored (its growing lists cut to a copy)."""
    copy: Aggregate = aggregate.twin().restore()  # type: ignore[attr-defined]
    return copy
