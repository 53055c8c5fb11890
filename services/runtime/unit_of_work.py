"""The aggregates one batch of handlers touched, saved together with the worker's tracking record."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.store import StoreUnavailable
from events.store.aggregates import AggregateNotFound, AggregateStore

A = TypeVar("A", bound=Aggregate)


@dataclass
class UnitOfWork:
    """Handlers load through it, so two events of one batch see one aggregate, changes included."""

    repository: AggregateStore
    now: datetime
    position: int = 0
    _seen: dict[UUID, Aggregate] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    cache: AggregateCache | None = None

    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        cached = self._seen.get(aggregate_id)
        if cached is None and self.cache is not None:
            cached = self.cache.get(aggregate_id)
            if cached is None and self.cache.known_missing(aggregate_id, cls):
                raise AggregateNotFound(aggregate_id)
        if cached is None:
            try:
                cached = await self.repository.get(aggregate_id, cls)
            except AggregateNotFound:
                if self.cache is not None:
                    self.cache.missing(aggregate_id, cls)
                raise
        self._seen[aggregate_id] = cached
        if not isinstance(cached, cls):
            raise TypeError(f"{aggregate_id} is a {type(cached).__name__}, not a {cls.__name__}")
        return cached

    async def prefetch(self, aggregate_ids: set[UUID], *, concurrency: int = 32) -> None:
        """Load the aggregates a batch's handlers will ask for, concurrently instead of one round trip each."""
        missing = [
            i
            for i in aggregate_ids
            if i not in self._seen and (self.cache is None or self.cache.get(i) is None)
        ]
        gate = asyncio.Semaphore(concurrency)

        async def load(aggregate_id: UUID) -> None:
            async with gate:
                try:
                    self._seen[aggregate_id] = await self.repository.get(aggregate_id)
                except AggregateNotFound:
                    pass
                except StoreUnavailable:
                    raise
                except Exception:
                    # Only a shortcut: an aggregate that cannot be loaded (an undecodable event) is left for
                    # its handler to load, where the worker retries and dead-letters that one event. Raised
                    # here, outside any handler, it crashed the worker on every restart (a poison pill).
                    pass

        await asyncio.gather(*(load(i) for i in missing))

    def add(self, aggregate: Aggregate) -> None:
        """A new aggregate created by a handler."""
        self._seen[aggregate.id] = aggregate

    @property
    def changed(self) -> list[Aggregate]:
        return [a for a in self._seen.values() if a.pending_events]


class AggregateCache:
    """Aggregates that only this worker writes (its own indexes), kept across batches.

    Safe because nobody else changes them, and a save still carries the expected sequence: a stale entry
    is refused by the server, never silently used to overwrite. Never cache an aggregate others write
    (a complaint): a handler that only reads it would decide on stale state without any conflict.
    """

    def __init__(self, types: tuple[type[Aggregate], ...], size: int = 20_000) -> None:
        self.types = types
        self.size = size
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
            if isinstance(aggregate, self.types):
                self._entries[aggregate.id] = aggregate
                self._entries.move_to_end(aggregate.id)
                self._missing.pop(aggregate.id, None)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self._missing.clear()
