"""The aggregates one batch of handlers touched, saved together with the worker's tracking record."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.store.aggregates import AggregateNotFound, AggregateStore
from events.twins import Twin

A = TypeVar("A", bound=Aggregate)


@dataclass
class UnitOfWork:
    """Handlers load through it, so two events of one batch see one aggregate, changes included."""

    repository: AggregateStore
    now: datetime
    position: int = 0
    _seen: dict[UUID, Aggregate] = field(default_factory=dict)
    _absent: set[UUID] = field(default_factory=set)  # prefetched and not there: no second round trip
    # Handlers change only what they get (or add): pending events are counted over those alone.
    _touched: set[UUID] = field(default_factory=set)
    _pending: dict[UUID, int] = field(default_factory=dict)
    _pending_total: int = 0
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    cache: AggregateCache | None = None
    # Twins of cached aggregates as they were before this unit of work changed them (events/twins.py): the
    # worker puts them back when the changes are not stored, instead of loading a surge's incident again.
    _twins: dict[UUID, Twin[Any]] = field(default_factory=dict)

    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        cached = self._seen.get(aggregate_id)
        if cached is None and self.cache is not None:
            cached = self.cache.get(aggregate_id)
            if cached is None and self.cache.known_missing(aggregate_id, cls):
                raise AggregateNotFound(aggregate_id)
            if cached is not None and not cached.pending_events:
                self._make_twin(cached)
        if cached is None and aggregate_id in self._absent:
            raise AggregateNotFound(aggregate_id)
        if cached is None:
            try:
                cached = await self.repository.get(aggregate_id, cls)
            except AggregateNotFound:
                if self.cache is not None:
                    self.cache.missing(aggregate_id, cls)
                raise
        self._seen[aggregate_id] = cached
        self._touched.add(aggregate_id)
        if not isinstance(cached, cls):
            raise TypeError(f"{aggregate_id} is a {type(cached).__name__}, not a {cls.__name__}")
        return cached

    def peek(self, aggregate_id: UUID) -> Aggregate | None:
        """An aggregate already loaded in this unit of work (or cached), without any I/O: to read, never to
        change (changes are made to what `get` returns)."""
        found = self._seen.get(aggregate_id)
        if found is None and self.cache is not None:
            found = self.cache.get(aggregate_id)
        return found

    async def prefetch(
        self,
        aggregate_ids: set[UUID],
        *,
        cls: type[Aggregate] | None = None,
        fresh: bool = False,
        concurrency: int = 32,
    ) -> None:
        """Load the aggregates a batch's handlers will ask for, concurrently instead of one round trip each.

        Ids found missing are remembered (for this unit of work; with `cls`, in the cache too when that kind
        is cached), so a handler asking for one does not pay a round trip to hear it again. With `fresh`,
        cached ones are checked against their subject's last event (one request for all) and those written
        since are loaded again: the handlers see each aggregate as it is now, as if loaded."""
        cache = self.cache
        missing = [
            i
            for i in aggregate_ids
            if i not in self._seen
            and i not in self._absent
            and (cache is None or (cache.get(i) is None and not (cls and cache.known_missing(i, cls))))
        ]
        if fresh and cache is not None:
            missing += await self._behind_the_stream([i for i in aggregate_ids if i not in missing])
        if not missing:
            return
        # Only a shortcut: an aggregate that cannot be decoded is in neither result and is left for its
        # handler to load, where the worker retries and dead-letters that one event. Raised here, outside any
        # handler, it crashed the worker on every restart (a poison pill).
        found, absent = await self.repository.get_many(missing, concurrency=concurrency)
        self._seen.update(found)
        self._absent.update(absent)
        if cls is not None and self.cache is not None:
            for aggregate_id in absent:
                self.cache.missing(aggregate_id, cls)

    async def _behind_the_stream(self, aggregate_ids: list[UUID]) -> list[UUID]:
        """Of these cached aggregates, those with events after the cached version: dropped from the cache.
        Kinds the worker only reads are left as they are (`AggregateCache.read_only`)."""
        assert self.cache is not None
        read_only = self.cache.read_only
        cached = {
            i: a
            for i in aggregate_ids
            if (a := self.cache.get(i)) is not None and not (read_only and isinstance(a, read_only))
        }
        if not cached:
            return []
        known = {i: self.repository.known_position(i, a.version) for i, a in cached.items()}
        moved = await self.repository.moved(known)
        behind = [i for i in cached if i in moved]
        for aggregate_id in behind:
            self.cache.forget(aggregate_id)
        return behind

    def add(self, aggregate: Aggregate) -> None:
        """A new aggregate created by a handler."""
        self._seen[aggregate.id] = aggregate
        self._touched.add(aggregate.id)

    @property
    def changed(self) -> list[Aggregate]:
        return [a for a in self._seen.values() if a.pending_events]

    @property
    def pending_count(self) -> int:
        """New events not yet stored, over every aggregate this unit of work holds."""
        for aggregate_id in self._touched:
            now = len(self._seen[aggregate_id].pending_events)
            self._pending_total += now - self._pending.get(aggregate_id, 0)
            self._pending[aggregate_id] = now
        self._touched.clear()
        return self._pending_total

    @property
    def twins(self) -> list[Aggregate]:
        """The aggregates taken from the cache that make twins, as they were before this unit of work changed
        them (or as last stored)."""
        return [twin.restore() for twin in self._twins.values()]

    def _make_twin(self, aggregate: Aggregate) -> None:
        make = getattr(aggregate, "twin", None)
        if make is None:
            return
        try:
            self._twins[aggregate.id] = make()
        except Exception:  # a state it cannot copy: without a twin it is dropped and loaded again, as before
            self._twins.pop(aggregate.id, None)

    def stored(self, *, twins: bool = False) -> None:
        """Everything pending was just stored (the aggregates stay loaded, as stored). `twins`: the batch goes
        on in this unit of work, so what is stored now is what to fall back on from here."""
        self._twins.clear()
        if twins:
            for aggregate in self._seen.values():
                self._make_twin(aggregate)
        self._touched.clear()
        self._pending.clear()
        self._pending_total = 0

    @property
    def loaded(self) -> list[Aggregate]:
        return list(self._seen.values())


class AggregateCache:
    """Aggregates a worker keeps across batches instead of loading them again.

    The worker applies to each entry every new version it reads from the stream (Worker._feed), so an entry
    is never behind the batch in hand, whoever else writes that aggregate. A save still carries the expected
    sequence: an entry behind the stream's end is refused by the server, never silently used to overwrite.
    """

    def __init__(
        self,
        types: tuple[type[Aggregate], ...],
        size: int = 20_000,
        *,
        read_only: tuple[type[Aggregate], ...] = (),
    ) -> None:
        """`read_only`: kinds among `types` the worker never saves. Fed from the stream, an entry is as of the
        batch in hand, which is what a handler reading it must see; it is never checked against the stream's
        end (`UnitOfWork.prefetch`), where other workers may have written it since."""
        self.types = types
        self.size = size
        self.read_only = read_only
        self._entries: OrderedDict[UUID, Aggregate] = OrderedDict()
        # Ids of the cached kinds that do not exist yet (a new caller's contact index, an empty bucket): a
        # miss costs a round trip each time otherwise. Only this worker creates them, and `keep` forgets
        # the miss when it does.
        self._missing: OrderedDict[UUID, None] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        found = self._entries.get(aggregate_id)
        if found is not None:
            self._entries.move_to_end(aggregate_id)
        return found

    def known_missing(self, aggregate_id: UUID, cls: type[Aggregate]) -> bool:
        return issubclass(cls, self.types) and aggregate_id in self._missing

    def missing(self, aggregate_id: UUID, cls: type[Aggregate]) -> None:
        if issubclass(cls, self.types):
            self._missing[aggregate_id] = None
            while len(self._missing) > self.size:
                self._missing.popitem(last=False)

    def keep(self, aggregates: list[Aggregate]) -> None:
        """After a commit: remember the committed state of the cacheable aggregates."""
        for aggregate in aggregates:
            if isinstance(aggregate, self.types) and not aggregate.pending_events:
                self._entries[aggregate.id] = aggregate
                self._entries.move_to_end(aggregate.id)
                self._missing.pop(aggregate.id, None)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, aggregate_id: UUID) -> None:
        """Drop the entry, and a note that it did not exist: a commit found it written by someone else."""
        self._entries.pop(aggregate_id, None)
        self._missing.pop(aggregate_id, None)

    def evict(self, aggregates: list[Aggregate]) -> None:
        """Forget these (changed in memory by a batch that will not be committed); the rest stays valid."""
        for aggregate in aggregates:
            self._entries.pop(aggregate.id, None)

    def clear(self) -> None:
        self._entries.clear()
        self._missing.clear()
