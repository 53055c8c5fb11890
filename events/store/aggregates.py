"""Loading and saving eventsourcing aggregates on the stream, asynchronously.

This is the repository services use in their hot path (no threads). Optimistic concurrency: a save carries
the subject's last stream sequence as the aggregate was loaded, and the server refuses the batch if anyone
wrote to that aggregate since.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent

from events.store.errors import ConcurrencyConflict, StoreError
from events.store.held import Held, HeldAggregates, copy_of
from events.store.jetstream import JetStreamEventStore
from events.store.records import StoredMessage, Write

log = structlog.get_logger(__name__)

TOPIC = "Levee-Topic"
VERSION = "Levee-Version"
# On the last message of a change a keyed request made: "<scope>.<fingerprint>" (services/api/idempotency.py).
# The marker lives in the stream with the change itself, so a retry finds it from any API process, after any
# restart, and the write that carries it is the one the expected-sequence check lets through.
REQUEST = "Levee-Request"
# An aggregate's derived attribute (never an event's field): {scope: fingerprint} of the keyed requests its
# history carries.
_REQUESTS = "_requests"
_FIRST_VERSION = str(Aggregate.INITIAL_VERSION)
_NO_REQUESTS: Mapping[str, str] = MappingProxyType({})
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class RequestMark:
    """A keyed request as the stream keeps it: who asked for what and where (`scope`, a hash), and a hash of
    what they sent (`fingerprint`). Never the key itself."""

    scope: str
    fingerprint: str

    @property
    def header(self) -> str:
        return f"{self.scope}.{self.fingerprint}"

    @classmethod
    def parse(cls, header: str) -> RequestMark:
        scope, _, fingerprint = header.rpartition(".")
        return cls(scope, fingerprint)


def requests_of(aggregate: Aggregate) -> Mapping[str, str]:
    """{scope: fingerprint} of the keyed requests whose changes the aggregate's history, as read, carries.

    Read-only, and never changed afterwards: a catch-up gives the held aggregate a new dict, so a copy handed
    out earlier keeps the requests of its own version."""
    requests: dict[str, str] | None = aggregate.__dict__.get(_REQUESTS)
    return _NO_REQUESTS if requests is None else MappingProxyType(requests)


def _note_requests(aggregate: Aggregate, messages: Iterable[StoredMessage]) -> None:
    """Record the requests these messages (just folded into `aggregate`) carry.
    Replaces the dict, never changes it in place: copies (`copy_of`, a twin) share the dict they were made
    with."""
    marks = [RequestMark.parse(m.headers[REQUEST]) for m in messages if REQUEST in m.headers]
    if marks:
        aggregate.__dict__[_REQUESTS] = {
            **requests_of(aggregate), **{mark.scope: mark.fingerprint for mark in marks}
        }  # fmt: skip


class Appender(Protocol):
    async def append(self, writes: Sequence[Write]) -> list[int]: ...


class AggregateNotFound(LookupError):
    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(f"no aggregate with id {aggregate_id}")
        self.aggregate_id = aggregate_id


# A read that must reach a known sequence is asked again at most this often, this far apart (0.5 s in all).
CATCH_UP_READS = 20
CATCH_UP_PAUSE = 0.025


class AggregateStore:
    """Async repository: `get` folds an aggregate's events, `save` appends its pending events atomically."""

    def __init__(
        self,
        store: JetStreamEventStore,
        mapper: Mapper[UUID],
        *,
        appender: Appender | None = None,
        remembered: int = 200_000,
        held: HeldAggregates | None = None,
    ) -> None:
        self.store = store
        self.held = held
        self.mapper = mapper
        self.appender: Appender = appender or store
        # (aggregate id, version) -> stream sequence of that version's event, for the expected-sequence
        # check without a second read. Bounded: a miss costs one direct get.
        self._positions: OrderedDict[tuple[UUID, int], int] = OrderedDict()
        self._remembered = remembered

    async def get(self, aggregate_id: UUID, cls: type[A] | None = None, *, at_least: int = 0) -> A:
        """The aggregate from its events. `at_least`: a stream sequence its subject is known to reach (a conflict
        said so): on a replicated stream a direct get may be answered by a replica a moment behind, so the read
        is asked again, briefly, until it reaches that far.

        With `held` (events/store/held.py), a long history is read once and then only what was written since;
        the caller gets a copy of its own."""
        held = self.held.get(aggregate_id) if self.held is not None else None
        aggregate: Any = await self._caught_up(aggregate_id, held, at_least) if held is not None else None
        if aggregate is None:
            subject = self.store.spec.event_subject(aggregate_id)
            messages = await self._read(subject, after_seq=0, at_least=at_least)
            if not messages:
                raise AggregateNotFound(aggregate_id)
            for message in messages:
                aggregate = self.to_domain_event(aggregate_id, message).mutate(aggregate)
            if aggregate is None:
                raise AggregateNotFound(aggregate_id)
            _note_requests(aggregate, messages)
            self._remember(aggregate_id, aggregate.version, messages[-1].seq)
            if self.held is not None and self.held.worth_holding(aggregate):
                self.held.hold(aggregate, messages[-1].seq)
                aggregate = copy_of(aggregate)
        if cls is not None and not isinstance(aggregate, cls):
            raise AggregateNotFound(aggregate_id)
        return cast(A, aggregate)

    async def history(self, aggregate_id: UUID, *, version: int = 0) -> list[Any]:
        """The aggregate's domain events, oldest first: for a fold of its own (events/deadlines.py). `version`:
        one the caller has loaded, so known to be stored: a replica a moment behind is asked again, briefly, as
        `get` does with `at_least`."""

        def reached(messages: list[StoredMessage]) -> bool:
            return not version or (bool(messages) and int(messages[-1].headers[VERSION]) >= version)

        messages = await self._read(self.store.spec.event_subject(aggregate_id), after_seq=0, reached=reached)
        return [self.to_domain_event(aggregate_id, message) for message in messages]

    async def _read(
        self,
        subject: str,
        *,
        after_seq: int,
        at_least: int = 0,
        reached: Callable[[list[StoredMessage]], bool] | None = None,
    ) -> list[StoredMessage]:
        """The subject's messages after `after_seq`, read again briefly until they reach stream sequence
        `at_least` (or satisfy `reached`): a replica a moment behind hands back a stale copy."""
        if reached is None:

            def reached(messages: list[StoredMessage]) -> bool:
                return not at_least or max(after_seq, messages[-1].seq if messages else 0) >= at_least

        messages = await self.store.read_subject(subject, after_seq=after_seq)
        for _ in range(CATCH_UP_READS):
            if reached(messages):
                break
            # A replica catching up takes milliseconds: a short pause, not a condition to poll.
            await asyncio.sleep(CATCH_UP_PAUSE)
            messages = await self.store.read_subject(subject, after_seq=after_seq)
        return messages

    async def _caught_up(self, aggregate_id: UUID, held: Held, at_least: int) -> Aggregate | None:
        """A copy of the held aggregate with the events written since it was read; None when it cannot follow
        them (it is then forgotten, and read whole)."""
        subject = self.store.spec.event_subject(aggregate_id)
        messages = await self._read(subject, after_seq=held.seq, at_least=at_least)
        assert self.held is not None
        if self.held.get(aggregate_id) is not held:
            return None  # forgotten or replaced while this read was out
        aggregate = held.aggregate
        applied: list[StoredMessage] = []
        try:
            for message in messages:
                if int(message.headers[VERSION]) <= aggregate.version:
                    continue  # applied by another read that came back first
                aggregate = self.to_domain_event(aggregate_id, message).mutate(aggregate)
                held.seq = message.seq
                applied.append(message)
        except Exception as exc:
            # A gap, or an event it cannot take: the whole history will say. Logged: were it to happen on
            # every read, commands would be back to reading whole histories, and racing triage for them.
            log.warning("held_aggregate_dropped", id=str(aggregate_id), error=f"{type(exc).__name__}: {exc}")
            self.held.forget(aggregate_id)
            return None
        _note_requests(aggregate, applied)
        self._remember(aggregate_id, aggregate.version, held.seq)
        if applied:
            self.held.trim()
        return copy_of(aggregate)

    async def get_many(
        self, aggregate_ids: Sequence[UUID], *, concurrency: int = 32
    ) -> tuple[dict[UUID, Aggregate], set[UUID]]:
        """Load many aggregates: (those found, the ids that have no events at all).

        One request asks for the last event of every subject; an aggregate whose last event is its first
        (a complaint just received, say) is complete with it, and only the others are read in full, those
        concurrently. An aggregate that cannot be decoded is in neither result: `get` it to see why.
        """
        subject_of = {self.store.spec.event_subject(i): i for i in aggregate_ids}
        lasts = await self.store.last_messages(list(subject_of))
        found: dict[UUID, Aggregate] = {}
        longer: list[UUID] = []
        for message in lasts:
            aggregate_id = subject_of[message.subject]
            if message.headers.get(VERSION) != _FIRST_VERSION:
                longer.append(aggregate_id)
                continue
            try:
                found[aggregate_id] = self.to_domain_event(aggregate_id, message).mutate(None)
            except Exception:
                continue
            self._remember(aggregate_id, Aggregate.INITIAL_VERSION, message.seq)
        absent = set(aggregate_ids) - {subject_of[m.subject] for m in lasts}
        gate = asyncio.Semaphore(concurrency)

        async def load(aggregate_id: UUID) -> None:
            async with gate:
                try:
                    found[aggregate_id] = await self.get(aggregate_id)
                except AggregateNotFound:
                    absent.add(aggregate_id)  # written and gone? never in this stream; be exact anyway
                except StoreError:
                    raise
                except Exception:
                    pass

        await asyncio.gather(*(load(i) for i in longer))
        return found, absent

    def to_domain_event(self, aggregate_id: UUID, message: StoredMessage) -> Any:
        stored = StoredEvent(
            originator_id=aggregate_id,
            originator_version=int(message.headers[VERSION]),
            topic=message.headers[TOPIC],
            state=message.data,
        )
        return self.mapper.to_domain_event(stored)

    async def writes_for(
        self, *aggregates: Aggregate, request: RequestMark | None = None, mark_each: bool = False
    ) -> list[Write]:
        """The writes that would store the aggregates' pending events (without collecting them). `request`:
        the keyed request making the change, marked on the first aggregate's last new event, or with
        `mark_each` on each aggregate's (a change of many cases, each found again on its own); none pending:
        nothing changes, and nothing is marked."""
        writes: list[Write] = []
        for index, aggregate in enumerate(aggregates):
            pending = list(aggregate.pending_events)  # cleared only once stored
            if not pending:
                continue
            expected = await self._expected_sequence(aggregate.id, pending[0].originator_version)
            for number, event in enumerate(pending):
                stored = self.mapper.to_stored_event(event)
                headers = {TOPIC: stored.topic, VERSION: str(stored.originator_version)}
                if request is not None and (index == 0 or mark_each) and number == len(pending) - 1:
                    # On the change's last write, in the batch the expected-sequence check guards (on its first):
                    # the mark is stored if and only if the whole change is (nats-server at its storage limit
                    # was seen to keep only a batch's first message), and a racing twin is refused with it.
                    headers[REQUEST] = request.header
                writes.append(
                    Write(
                        subject=self.store.spec.event_subject(aggregate.id),
                        data=stored.state,
                        headers=headers,
                        expected_last_seq=expected if number == 0 else None,
                    )
                )
        return writes

    async def save(
        self,
        *aggregates: Aggregate,
        extra: Sequence[Write] = (),
        request: RequestMark | None = None,
        mark_each: bool = False,
    ) -> list[int]:
        """Append all pending events of `aggregates` (and `extra`, e.g. a tracking record) in one batch;
        `request` marks the change as that keyed request's (`writes_for`)."""
        writes = await self.writes_for(*aggregates, request=request, mark_each=mark_each)
        if not writes and not extra:
            return []
        positions = await self.appender.append([*writes, *extra])
        self.stored(aggregates, positions)
        return positions

    def stored(self, aggregates: Sequence[Aggregate], positions: Sequence[int]) -> None:
        """After `writes_for(*aggregates)` was appended first in a batch at `positions`: clear the aggregates'
        pending events and remember where each now ends, so its next save needs no read to find out."""
        offset = 0
        for aggregate in aggregates:
            collected = aggregate.collect_events()
            if collected:
                offset += len(collected)
                self._remember(aggregate.id, collected[-1].originator_version, positions[offset - 1])

    async def _expected_sequence(self, aggregate_id: UUID, first_new_version: int) -> int:
        if first_new_version == Aggregate.INITIAL_VERSION:
            return 0  # a new aggregate: its subject must be empty
        known = self._positions.get((aggregate_id, first_new_version - 1))
        if known is not None:
            return known
        last = await self.store.last_message(self.store.spec.event_subject(aggregate_id))
        if last is None or int(last.headers.get(VERSION, 0)) != first_new_version - 1:
            raise ConcurrencyConflict(
                self.store.spec.event_subject(aggregate_id), "aggregate changed since loaded",
                last_seq=last.seq if last else 0,
            )  # fmt: skip
        return last.seq

    async def moved(self, expected: Mapping[UUID, int | None]) -> set[UUID]:
        """Of these aggregates, those whose subject no longer ends at the expected stream sequence (0: no
        event yet; None: not known, so taken as moved). One multi-last read for all of them."""
        subjects = {self.store.spec.event_subject(aggregate_id): aggregate_id for aggregate_id in expected}
        last = {m.subject: m.seq for m in await self.store.last_messages(list(subjects))}
        return {
            aggregate_id
            for subject, aggregate_id in subjects.items()
            if expected[aggregate_id] is None or last.get(subject, 0) != expected[aggregate_id]
        }

    def known_position(self, aggregate_id: UUID, version: int) -> int | None:
        """The stream sequence of this version's event, if this store has seen it."""
        return self._positions.get((aggregate_id, version))

    def remember(self, aggregate_id: UUID, version: int, seq: int) -> None:
        """A reader saw this version of the aggregate at this stream sequence (so a save needs no read)."""
        self._remember(aggregate_id, version, seq)

    def _remember(self, aggregate_id: UUID, version: int, seq: int) -> None:
        self._positions[(aggregate_id, version)] = seq
        self._positions.move_to_end((aggregate_id, version))
        while len(self._positions) > self._remembered:
            self._positions.popitem(last=False)
