"""The deadline watcher's schedule on its shelf (events/store/shelf.py): whether a shelved one may be used, and
the schedule as bytes and back.

What is shelved is the fold as it stood at a stream position: the schedule (complaints with a deadline that
could still be missed) and the dormant ones (resolved, kept for a reopen). A shelf is used only when it was
written by the same code (the fold, the events' decoding, the watcher: `_fold_source`), the same deadline
lengths (the reference's levels) and the same stream (its creation time), and the stream still holds the
message it was folded to: otherwise its states could differ from what folding the stream from the start
gives, and the watcher folds from the start instead (`ScheduleShelf.restore` says why).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import inspect
import json
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import events.complaint
import events.deadlines
import events.mapper
from events.deadlines import Deadline, DeadlineState
from events.reference import Reference
from events.store import JetStreamEventStore
from events.store.shelf import FoldShelf, Shelf

FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Schedule:
    schedule: dict[UUID, DeadlineState]
    dormant: dict[UUID, DeadlineState]


@dataclasses.dataclass(frozen=True)
class Restored:
    position: int  # the last stream sequence folded in
    last: str  # that message's identity (events.store.shelf.identity)
    schedule: Schedule


class ScheduleShelf:
    """The watcher's side of its shelf (events.store.shelf.FoldShelf): the shelved schedule if it may be used,
    and shelving one."""

    def __init__(self, shelf: Shelf, store: JetStreamEventStore, reference: Reference) -> None:
        self.fold = FoldShelf(
            shelf, store, fingerprint=functools.partial(fingerprint, reference), reader="deadline_watcher"
        )

    async def restore(self) -> Restored | None:
        """The shelved schedule, or None (logged why) when the watcher must fold from the start; StoreUnavailable
        while the stream (or the shelf, a few times) does not answer."""
        folded = await self.fold.restore()
        if folded is None:
            return None
        try:
            schedule = await asyncio.to_thread(decode, folded.data)
        except (ValueError, KeyError, TypeError) as exc:
            self.fold.from_start("the shelved schedule is unreadable", error=repr(exc), level="warning")
            return None
        return Restored(folded.position, folded.last, schedule)

    async def put(
        self,
        position: int,
        last: str,
        schedule: Mapping[UUID, DeadlineState],
        dormant: Mapping[UUID, DeadlineState],
    ) -> int:
        """Shelve the schedule folded to `position` (whose message is `last`); its size in bytes. Encoded off
        the loop (json holds the GIL, so the loop still waits some: 0.2 s at most at 100,000 cases)."""
        data = await asyncio.to_thread(encode, schedule, dormant)
        await self.fold.put(position, last, data)
        return len(data)


def fingerprint(reference: Reference, stream_created: str) -> str:
    """What must be the same for a shelved schedule to be the one folding the stream would give now."""
    levels = [(d.level, d.accept_within_minutes, d.resolve_within_minutes) for d in reference.levels]
    return hashlib.sha256(
        json.dumps([FORMAT, _fold_source(), levels, stream_created, _FIELDS]).encode()
    ).hexdigest()


def encode(schedule: Mapping[UUID, DeadlineState], dormant: Mapping[UUID, DeadlineState]) -> bytes:
    """Compressed JSON: each state's fields in order (see below)."""
    document = {"schedule": _rows(schedule.values()), "dormant": _rows(dormant.values())}
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 1)


def decode(data: bytes) -> Schedule:
    """The schedule `encode` wrote; ValueError (or a subclass) when the bytes are not one."""
    try:
        document = json.loads(zlib.decompress(data))
        schedule = [_state(row) for row in document["schedule"]]
        dormant = [_state(row) for row in document["dormant"]]
    except (zlib.error, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise ValueError(f"not a shelved deadline schedule: {exc!r}") from exc
    return Schedule(
        {state.complaint_id: state for state in schedule}, {state.complaint_id: state for state in dormant}
    )


# ---- rows ------------------------------------------------------------------------------------------------
# Positional, in the dataclasses' field order, times as whole microseconds since the epoch: 100,000 states are
# read back in about a second. A field added to either class changes the fingerprint (old shelves are not
# used) and fails the round-trip test until it is written here.

_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(DeadlineState))
_DEADLINE_FIELDS = tuple(f.name for f in dataclasses.fields(Deadline))
_FIELDS = [_STATE_FIELDS, _DEADLINE_FIELDS]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _rows(states: Iterable[DeadlineState]) -> list[list[Any]]:
    return [
        [s.complaint_id.hex, s.version, s.level, [_deadline_row(d) for d in s.deadlines], _out(s.agreed_at),
         _out(s.accepted_at), s.escalation_level, s.misses_recorded, s.settled, s.ended]
        for s in states
    ]  # fmt: skip


def _deadline_row(d: Deadline) -> list[Any]:
    return [d.kind, _out(d.due), d.source, _out(d.closed_at), d.recorded, _out(d.unbounded)]


def _state(row: list[Any]) -> DeadlineState:
    complaint_id, version, level, deadlines, agreed_at, accepted_at, escalation, misses, settled, ended = row
    return DeadlineState(
        UUID(hex=complaint_id), version, level, tuple(map(_deadline, deadlines)), _in(agreed_at),
        _in(accepted_at), escalation, misses, settled, ended,
    )  # fmt: skip


def _deadline(row: list[Any]) -> Deadline:
    kind, due, source, closed_at, recorded, unbounded = row
    return Deadline(kind, _EPOCH + due * _MICROSECOND, source, _in(closed_at), recorded, _in(unbounded))


def _out(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // _MICROSECOND


def _in(microseconds: int | None) -> datetime | None:
    return None if microseconds is None else _EPOCH + microseconds * _MICROSECOND


@functools.cache
def _fold_source() -> str:
    """The code a schedule depends on: the fold, the events as decoded (their upcasts), and the watcher's own
    keeping (what it skips, drops or keeps dormant). Any change to it refuses older shelves: one fold from the
    start after an upgrade."""
    import services.dispatch.deadlines  # here: it imports this module

    modules = (events.deadlines, events.complaint, events.mapper, services.dispatch.deadlines)
    return "\n".join(inspect.getsource(module) for module in modules)
