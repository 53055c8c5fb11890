"""The aggregates one batch of handlers touched, saved together with the worker's tracking record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.store.aggregates import AggregateStore

A = TypeVar("A", bound=Aggregate)


@dataclass
class UnitOfWork:
    """Handlers load through it, so two events of one batch see one aggregate, changes included."""

    repository: AggregateStore
    now: datetime
    position: int = 0
    _seen: dict[UUID, Aggregate] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    async def get(self, aggregate_id: UUID, cls: type[A]) -> A:
        cached = self._seen.get(aggregate_id)
        if cached is None:
            cached = await self.repository.get(aggregate_id, cls)
            self._seen[aggregate_id] = cached
        if not isinstance(cached, cls):
            raise TypeError(f"{aggregate_id} is a {type(cached).__name__}, not a {cls.__name__}")
        return cached

    def add(self, aggregate: Aggregate) -> None:
        """A new aggregate created by a handler."""
        self._seen[aggregate.id] = aggregate

    @property
    def changed(self) -> list[Aggregate]:
        return [a for a in self._seen.values() if a.pending_events]
