"""A twin of an aggregate: the copy a worker keeps to fall back on when the changes it makes are not stored.

A worker keeps aggregates in memory across batches and its handlers change them in place. When a batch is
not stored (a concurrent write, a failing handler), the changed aggregates are no longer as stored, and the
worker used to load them again: for an incident or a cluster of a surge, thousands of events each time. An
aggregate that can say which of its containers change in place makes a twin before the batch changes it,
and the worker puts the twin back instead.

A twin is made for every cached aggregate a batch touches and is almost never used, so making one must not
cost the aggregate's size: a list that only ever grows at its end (an incident's complaints, a cluster
group's members) is not copied but remembered with its length, and cut back to it when the twin is used.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)


def shallow_twin(aggregate: A, *, derived: tuple[str, ...] = ()) -> A:
    """A shallow copy with no pending events and without the `derived` lookups (rebuilt when asked for: kept,
    they would follow the original's changes). The caller copies what the aggregate changes in place."""
    copied = copy.copy(aggregate)
    copied.__dict__["_pending_events"] = []
    for name in derived:
        copied.__dict__.pop(name, None)
    return copied


class Twin(Generic[A]):
    """An aggregate as it is now, made at the cost of its shape, not its size; `restore` gives the copy.

    `copy` is a shallow twin the aggregate's `twin` method completes: it copies what changes in place, except
    the lists that only grow at their end, which it hands to `keep_prefix` instead. Until `restore`, the copy
    may share state with the original: use what `restore` returns, never `copy` itself."""

    def __init__(self, aggregate: A, *, derived: tuple[str, ...] = ()) -> None:
        self.copy = shallow_twin(aggregate, derived=derived)
        self._prefixes: list[tuple[dict[str, Any], str, list[Any], int]] = []
        self._restorers: list[Callable[[A], None]] = []

    def keep_prefix(self, holder: dict[str, Any], key: str) -> None:
        """`holder[key]` (a dict of the copy's own: its `__dict__`, or a container it copied) is a list the
        original goes on appending to and never changes otherwise: the copy gets it as long as it is now."""
        items = holder[key]
        self._prefixes.append((holder, key, items, len(items)))

    def on_restore(self, restorer: Callable[[A], None]) -> None:
        """`restorer(copy)` completes the copy when the twin is used: for state the aggregate's `twin` keeps
        in its own way (it must hold what it needs as it is now, not look at the original later)."""
        self._restorers.append(restorer)

    def restore(self) -> A:
        """The copy, its growing lists cut back to their lengths when the twin was made (done once)."""
        for holder, key, items, length in self._prefixes:
            holder[key] = items[:length]
        for restorer in self._restorers:
            restorer(self.copy)
        self._prefixes.clear()
        self._restorers.clear()
        return self.copy
