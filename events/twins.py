"""A twin of an aggregate: the copy a worker keeps to fall back on when the changes it makes are not stored.

A worker keeps aggregates in memory across batches and its handlers change them in place. When a batch is
not stored (a concurrent write, a failing handler), the changed aggregates are no longer as stored, and the
worker used to load them again: for an incident or a cluster of a surge, thousands of events each time. An
aggregate that can say which of its containers change in place makes a twin before the batch changes it,
and the worker puts the twin back instead.
"""

from __future__ import annotations

import copy
from typing import TypeVar

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
