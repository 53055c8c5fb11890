"""The summary scheduler's fold on its shelf (events/store/shelf.py): which incidents are active, and the
index of the service's own summary drafts, as of a stream position.

A restart of notices then folds only the stream after it, instead of all of it before the first scheduled
draft (and before the worker's first superseding, which waits on the drafts index). The incidents themselves
are not shelved: an active incident is read once at the next tick, as one made active again always was.
Used only when the same code folded it from this very stream (`fingerprint`); else the scheduler folds from
the start, as without a shelf.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

import events.incident
import events.notice

FORMAT = 1
Drafts = dict[UUID, dict[UUID, int]]  # incident -> the service's summary drafts and their stream positions


@dataclass(frozen=True)
class Summaries:
    active: set[UUID]
    drafts_position: int  # the drafts index is folded up to here (the scheduler's position when shelved)
    drafts: Drafts


def fingerprint(stream_created: str) -> str:
    """What must be the same for a shelved fold to be the one folding the stream would give now."""
    return hashlib.sha256(json.dumps([FORMAT, _fold_source(), stream_created]).encode()).hexdigest()


def encode(active: Iterable[UUID], drafts_position: int, drafts: Mapping[UUID, Mapping[UUID, int]]) -> bytes:
    document = {
        "active": sorted(incident.hex for incident in active),
        "drafts_position": drafts_position,
        "drafts": {incident.hex: {n.hex: seq for n, seq in by.items()} for incident, by in drafts.items()},
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 1)


def decode(data: bytes) -> Summaries:
    """The fold `encode` wrote; ValueError (or a subclass) when the bytes are not one."""
    try:
        document = json.loads(zlib.decompress(data))
        return Summaries(
            {UUID(hex=incident) for incident in document["active"]},
            int(document["drafts_position"]),
            {
                UUID(hex=incident): {UUID(hex=notice): int(seq) for notice, seq in by.items()}
                for incident, by in document["drafts"].items()
            },
        )
    except (zlib.error, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a shelved summary fold: {exc!r}") from exc


@functools.cache
def _fold_source() -> str:
    """The code the fold depends on: the scheduler's and the drafts index's reading, and the events they read."""
    import services.notices.scheduler  # here: it imports this module
    import services.notices.superseding

    modules = (services.notices.scheduler, services.notices.superseding, events.incident, events.notice)
    return "\n".join(inspect.getsource(module) for module in modules)
