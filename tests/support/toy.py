"""A toy domain for testing the store and the worker runtime without Levee's own model."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from events.twins import Twin
from services.runtime.unit_of_work import UnitOfWork

TALLY_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by


class Tally(Aggregate):
    """Counts how many times a worker applied its effect, and for which sources."""

    @event("Opened")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @classmethod
    def create_id(cls) -> uuid.UUID:
        return TALLY_ID

    @event("Counted")
    def count(self, source: str) -> None:
        self.seen.append(source)

    def twin(self) -> Twin[Tally]:
        """Like an incident in a surge, it grows in place: a worker falls back on this copy (events/twins.py)."""
        twin = Twin(self)
        twin.keep_prefix(twin.copy.__dict__, "seen")
        return twin


def mapper() -> Mapper[uuid.UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


async def count_started(event: Counter.Started, uow: UnitOfWork) -> None:
    """The effect under test: every Counter.Started is counted once on the tally."""
    if event.name.startswith("poison"):
        raise ValueError(f"cannot digest {event.name}")
    tally = await uow.get(TALLY_ID, Tally)
    if event.name.startswith(("big", "huge")):  # one event with many effects
        for n in range(300 if event.name.startswith("big") else 1200):
            tally.count(f"{event.name}#{n}")
        return
    tally.count(event.name)


HANDLERS = {Counter.Started: count_started}
