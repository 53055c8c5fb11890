"""A pull-based stream worker that applies every effect exactly once.

Loop: read a batch after the tracked position (batch direct get, never a push consumer), run each event's
handler in one unit of work, then store every new event *and* the advanced tracking record in one atomic
batch. Only after that commit is the batch done; a crash anywhere before it redoes the batch, and the
tracking record's expected sequence makes a second commit of the same batch impossible.

A retry request addressed to this worker (services/runtime/redrive.py) is read in the same loop and handled
alone, at its own position: the dead-lettered event is handled once more and its effects, or a new dead
letter, are committed with the tracking record at the request's sequence, exactly once like any event.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import nats.errors
import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from events.backoff import Backoff, wait_or_stop
from events.store import ConcurrencyConflict, JetStreamEventStore, StoreError, StoreUnavailable, Write
from events.store.aggregates import TOPIC, VERSION, AggregateStore, Appender
from events.store.cursor import StreamCursor
from events.store.jetstream import MAX_BATCH, READ_BATCH
from events.store.records import StoredMessage
from services.runtime import redrive
from services.runtime.metrics import CONSUMER_LAG, DEAD_LETTERS, HANDLER_FAILURES, LagMeter
from services.runtime.tracking import Tracking, check_no_gap, load_tracking
from services.runtime.unit_of_work import AggregateCache, UnitOfWork

log = structlog.get_logger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Observer = Callable[[Any], None]
"""Sees every event of its type in stream order, with no unit of work (an in-memory index). Must be
idempotent: a batch that is redone shows it the same events again. An event it cannot read is logged and
left out (never dead-lettered: that is for the worker's effects)."""
Planner = Callable[[list[UUID], UnitOfWork], Awaitable[None]]
"""Given the ids of a batch's aggregates (already prefetched), prefetch what its handlers will also need."""
Clock = Callable[[], datetime]
# A batch whose new events reach this many is committed there and goes on in a second commit, so one atomic
# batch (at most MAX_BATCH messages with the tracking record) never overflows; the rest is headroom for the
# effects of one more event.
COMMIT_AT = MAX_BATCH - 200
# Read-ahead (see `Worker._read_ahead`): at most this many of the stream's last messages, read in chunks,
# before each of this many batches after a commit was refused as stale.
READ_AHEAD_WINDOW = 20_000
READ_AHEAD_CHUNK = 1_000
READ_AHEAD_BATCHES = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(
        self,
        name: str,
        store: JetStreamEventStore,
        repository: AggregateStore,
        handlers: Mapping[type, Handler],
        *,
        batch_size: int = 1000,
        max_attempts: int = 5,
        clock: Clock = utc_now,
        appender: Appender | None = None,
        cache_types: tuple[type[Aggregate], ...] = (),
        read_only_types: tuple[type[Aggregate], ...] = (),
        planner: Planner | None = None,
        cache_size: int = 20_000,
        observers: Mapping[type, Observer] | None = None,
        read_ahead: bool = False,
    ) -> None:
        self.name = name
        self.store = store
        self.repository = repository
        # Keyed by stored topic, so an event no handler wants is skipped without being decoded (faster,
        # and a worker never imports another service's aggregate classes to read their events).
        self.handlers = {get_topic(cls): handler for cls, handler in handlers.items()}
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.clock = clock
        self.appender: Appender = appender or store
        self.tracking = Tracking(name, 0, 0)
        self.cache = (
            AggregateCache(cache_types, size=cache_size, read_only=read_only_types) if cache_types else None
        )
        # Events that create a cached kind of aggregate: read from the stream, they start its cache entry.
        self._creation_topics = frozenset(
            get_topic(c) for t in cache_types for c in _created_event_classes(t)
        )
        self._events_prefix = store.spec.events_filter.removesuffix(">")
        self._retry_subject = store.spec.retry_subject(name)
        self._skipped_to = 0  # the end of a run of non-event messages read past without a commit
        self._distrust_until = 0  # after a conflict: load what the batch needs instead of trusting the cache
        # Aggregates found behind the stream's end at a commit: loaded, not fed, until the position passes.
        self._stale: dict[UUID, int] = {}
        self.read_ahead = read_ahead and self.cache is not None
        self._ahead = 0  # the stream's end read ahead up to here (Worker._read_ahead)
        self._ahead_batches = 0  # batches still to read ahead before (since a stale commit)
        self.planner = planner
        self.observers = {get_topic(cls): observer for cls, observer in (observers or {}).items()}
        self.lag_meter = LagMeter()
        self.overtaken = False  # the last batch was committed by another instance first (a hot standby's lot)
        self.cursor: StreamCursor | None = None  # opened by `start`
        self.log = log.bind(worker=name)
        # At 0 from the start: Prometheus' increase() ignores a series' first sample, so a counter born at its
        # first dead letter after a restart showed no increase, and an alert on it never fired.
        DEAD_LETTERS.labels(name)
        HANDLER_FAILURES.labels(name)

    async def start(self) -> None:
        self.tracking = await load_tracking(self.store, self.name)
        await check_no_gap(self.store, self.tracking)
        # The stream in order through a consumer of the worker's own (a third of nats-server's CPU per message
        # of a direct get); positions stay the tracking record's.
        self.cursor = self.store.open_cursor(self.name)
        self.log.info("worker_started", position=self.tracking.position)

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 0.05) -> None:
        """Process until `stop` is set; the batch in hand is finished first (shutdown drains)."""
        await self.start()
        backoff = Backoff()
        try:
            while not stop.is_set():
                try:
                    done = await self.process_batch()
                except StoreUnavailable as exc:
                    # A full or unreachable store: asked again ever later (events/backoff.py), not every second.
                    retry_in = backoff.next_delay()
                    self.log.warning(
                        "worker_store_unavailable", error=str(exc), failed=backoff.failed, retry_in=retry_in
                    )
                    await wait_or_stop(stop, retry_in)
                    continue
                backoff.succeeded()
                await self.report_lag(done)
                if done == 0:
                    # Until the next message (a pull waiting in the server, not polling), then
                    # `idle_wait` for a batch to gather.
                    after = max(self.tracking.position, self._skipped_to)
                    await self.store.wait_for_more(after, self.cursor, stop, poll=idle_wait)
        finally:
            if self.cursor is not None:
                await self.cursor.close()

    async def report_lag(self, done: int) -> None:
        """After each batch: an empty read means no lag; a busy loop reads the lag at most once a second. A
        batch another instance committed first (a hot standby's lot) read nothing of its own but is no sign of
        no lag: it is read too, or a standby's gauge showed 0, or froze at its last reading."""
        overtaken, self.overtaken = self.overtaken, False
        if done == 0 and not overtaken:
            CONSUMER_LAG.labels(self.name).set(0)
        elif self.lag_meter.due():
            try:
                CONSUMER_LAG.labels(self.name).set(await self.lag())
            except StoreError as exc:  # only the gauge goes stale; the next batch says more
                self.log.warning("worker_lag_unavailable", error=str(exc))

    async def lag(self) -> int:
        """Events in the stream this worker has not yet processed."""
        return await self.store.count_after(self.tracking.position)

    async def process_batch(self) -> int:
        """Read and commit one batch; return how many stream messages it covered (0: nothing new)."""
        # The whole stream, not the events' subjects: a filtered batch read once cost nats-server about 80 us of
        # CPU per message against 12 us unfiltered (10 against 8 us on 2.15, bench of 2026-12-06 in
        # docs/performance.md), and a read window (events/store/read_window.py) keeps only unfiltered reads for
        # the process's other reader. Tracking records and dead letters are skipped here, and
        # only in memory: committing a position for them would write a tracking record every other worker
        # then reads and answers in kind, for ever. After a restart they are skipped again. Retry requests
        # addressed to this worker are the exception: staff write them, and each is committed like an event.
        after = max(self.tracking.position, self._skipped_to)
        read = await self.store.read(after_seq=after, limit=self.batch_size, subject=">", cursor=self.cursor)
        if not read:
            return 0
        retry = self._retry_subject
        messages = [m for m in read if m.subject.startswith(self._events_prefix) or m.subject == retry]
        if not messages:
            self._skipped_to = read[-1].seq
            return len(read)
        self._skipped_to = 0
        # A retry request is handled alone, at its own position: this batch ends before it, or is just it.
        cut = next((i for i, m in enumerate(messages) if m.subject == retry), None)
        if cut is not None:
            messages = messages[: cut or 1]
        # A short read reached the stream's end: nothing lies ahead (one read gives READ_BATCH at most).
        behind = len(read) >= min(self.batch_size, READ_BATCH)
        read = messages
        if self.read_ahead and behind and self._ahead_batches > 0:
            self._ahead_batches -= 1
            if self._stale:  # as `_feed` will: marks of earlier batches end here (those were reloaded since)
                self._stale = {i: seq for i, seq in self._stale.items() if seq >= read[0].seq}
            await self._read_ahead(read[-1].seq)
        for _ in range(50):
            # A retry redoes only what is not committed yet: a batch may commit in parts.
            messages = [m for m in messages if m.seq > self.tracking.position]
            if not messages:
                break
            try:
                if messages[0].subject == retry:
                    await self._redrive(messages[0])
                else:
                    await self._commit_batch(messages)
                break
            except _Unstorable as unstorable:
                # These events' effects cannot be stored (too many for one atomic batch, an event the mapper
                # cannot encode, one the stream refuses): redo fewer of them, down to the one to set aside.
                self.log.info("batch_split", events=len(messages), reason=str(unstorable))
                if len(messages) == 1:
                    return await self._set_aside(messages[0], unstorable.error)
                messages = messages[: len(messages) // 2]
                continue
            except _StaleAggregates as stale:
                # Some cached aggregates were behind the stream's end (written after the batch in hand): redo
                # the batch with those loaded afresh, the rest of the cache is still good.
                self.log.info("worker_refresh_stale", aggregates=len(stale.ids))
                self._ahead_batches = READ_AHEAD_BATCHES  # others write what this worker writes: read ahead
                for aggregate_id in stale.ids:
                    self._stale[aggregate_id] = messages[-1].seq
                    if self.cache is not None:
                        self.cache.forget(aggregate_id)
            except ConcurrencyConflict as conflict:
                # Another instance committed this batch, or staff changed an aggregate under us: the cache is
                # behind the stream somewhere, so this batch is redone from freshly loaded aggregates.
                self._forget_cached()
                self._distrust_until = messages[-1].seq
                moved = await load_tracking(self.store, self.name)
                if moved.seq != self.tracking.seq:
                    # Debug: a hot standby is overtaken at every batch, and said so at info for ever.
                    self.log.debug("worker_overtaken", position=moved.position)
                    self.tracking = moved
                    self.overtaken = True
                    return 0
                self.log.info("worker_retry_conflict", detail=conflict.detail)
            except BaseException:
                self._forget_cached()
                raise
        else:
            raise RuntimeError(f"{self.name}: batch after {self.tracking.position} kept conflicting")
        return sum(1 for m in read if m.seq <= self.tracking.position)

    async def _commit_batch(self, messages: list[StoredMessage]) -> None:
        uow = UnitOfWork(self.repository, now=self.clock(), cache=self.cache)
        decoded = self._feed(messages)
        # Most handlers first load the aggregate their event belongs to: fetch those together (unless cached),
        # then what the worker's planner says the handlers will look up next.
        handled = list(
            dict.fromkeys(_aggregate_id(m) for m in messages if m.headers.get(TOPIC) in self.handlers)
        )
        await uow.prefetch(set(handled), fresh=True)
        if self.planner is not None and handled:
            try:
                await self.planner(handled, uow)
            except (ConcurrencyConflict, StoreUnavailable):
                raise
            except Exception as exc:
                # Only a shortcut: the handlers look everything up again, each event with its own tries and
                # dead letter. Raised here, one poison event would stop the worker on every restart.
                self.log.warning("batch_plan_failed", events=len(handled), error=repr(exc)[:500])
        start = 0  # messages[start:] are not committed yet
        for index, message in enumerate(messages):
            uow.position = message.seq
            try:
                await self._handle(message, uow, decoded.get(message.seq))
            except (ConcurrencyConflict, StoreUnavailable):
                raise
            except Exception:
                # Commit what came before the failing event, then give that one event its own tries.
                self._forget_changed(uow)
                if index > start:
                    await self._commit_batch(messages[start:index])
                    if self.tracking.position != messages[index - 1].seq:
                        return  # that redo stopped early at a failure of its own: the rest is read again
                await self._handle_alone(message)
                return
            if index + 1 < len(messages) and uow.pending_count >= COMMIT_AT:
                await self._commit(uow, message.seq, more=True)  # the aggregates stay loaded, as stored
                start = index + 1
        await self._commit(uow, messages[-1].seq)

    async def _handle_alone(self, message: StoredMessage) -> None:
        tried = await self._tries(message, self.log.bind(seq=message.seq), "handler_failed")
        if isinstance(tried, _GaveUp):
            await self._dead_letter(message, tried.error)
            return
        await self._commit(tried[0], message.seq)

    async def _redrive(self, request: StoredMessage) -> None:
        """Handle a dead-lettered event once more, as staff asked, like `_handle_alone`; the outcome (effects
        and a `succeeded` record, a new dead letter, or `ignored`) is committed at the request's position."""
        asked = redrive.parse_request(request)
        bound = self.log.bind(retry_position=request.seq, seq=asked.event_position)
        facts, original, reason = await self._retry_target(asked)
        retried = self.store.spec.retried_subject(self.name)
        if original is None or facts.dead is None:
            bound.warning("retry_ignored", reason=reason)
            record = redrive.outcome(
                self.name, asked, redrive.IGNORED, self.clock(), asked.dead_letter_position, reason=reason
            )
            await self._commit_alone(request.seq, [Write(retried, record)])
            return
        # No observer: it saw this event when it was first read, and an index must not step back.
        tried = await self._tries(original, bound, "retry_failed", observe=False)
        if isinstance(tried, _GaveUp):
            await self._dead_letter_again(original, tried.error, request.seq, facts, tried.attempts)
            return
        uow, attempts = tried
        done = redrive.outcome(self.name, asked, redrive.SUCCEEDED, uow.now, facts.dead.seq)
        try:
            await self._commit(uow, request.seq, [Write(retried, done)])
        except _Unstorable as unstorable:
            await self._dead_letter_again(original, unstorable.error, request.seq, facts, attempts)
            return
        bound.info("event_redriven", attempt=attempts, dead_letter_position=facts.dead.seq)

    async def _tries(
        self, message: StoredMessage, log: Any, failed: str, *, observe: bool = True
    ) -> tuple[UnitOfWork, int] | _GaveUp:
        """Handle one event in a unit of work of its own, up to `max_attempts` times with a growing pause: the
        unit of work and the attempts it took, or _GaveUp. Each failure is logged as `failed`. Losing NATS or
        a concurrent write is not the event's fault: raised."""
        for attempt in range(1, self.max_attempts + 1):
            uow = UnitOfWork(self.repository, now=self.clock(), position=message.seq, cache=self.cache)
            try:
                await self._handle(message, uow, observe=observe)
            except (ConcurrencyConflict, StoreUnavailable):
                raise
            except Exception as exc:
                self._forget_changed(uow)
                log.warning(failed, attempt=attempt, error=repr(exc))
                HANDLER_FAILURES.labels(self.name).inc()
                if attempt == self.max_attempts:
                    return _GaveUp(exc, attempt)
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            return uow, attempt
        raise ValueError(f"max_attempts must be at least 1, is {self.max_attempts}")

    async def _retry_target(
        self, asked: redrive.RetryRequest
    ) -> tuple[redrive.DeadLetterFacts, StoredMessage | None, str]:
        """The dead letter a request names, as the stream stood before the request, and its event; or why
        the request is left alone (the event is None then)."""
        if asked.event_position is None:
            return redrive.DeadLetterFacts(), None, "the request cannot be read"
        facts = await redrive.dead_letter_facts(self.store, self.name, asked.event_position, before=asked.seq)
        original = None
        if facts.dead is not None and facts.succeeded is None:
            original = await self.store.message_at(asked.event_position)
        reason = redrive.refusal(facts, original, self._events_prefix)
        return facts, (original if reason is None else None), reason or ""

    async def _dead_letter_again(
        self, original: StoredMessage, exc: Exception, at: int, facts: redrive.DeadLetterFacts, attempts: int
    ) -> None:
        """A retry failed too: a new dead letter, its attempts added to the last one's, naming the retried."""
        assert facts.dead is not None
        await self._dead_letter(
            original,
            exc,
            at=at,
            attempts=facts.attempts + attempts,
            retry_of=facts.dead.seq,
            retry_position=at,
        )

    async def _handle(
        self, message: StoredMessage, uow: UnitOfWork, event: Any = None, *, observe: bool = True
    ) -> None:
        topic = message.headers.get(TOPIC, "")
        observer = self.observers.get(topic) if observe else None
        if observer is not None:
            try:
                event = event or self.repository.to_domain_event(_aggregate_id(message), message)
                observer(event)
            except Exception as exc:  # an index, not an effect: an event it cannot read is left out of it
                self.log.warning("event_not_observed", seq=message.seq, topic=topic, error=repr(exc)[:500])
        handler = self.handlers.get(topic)
        if handler is None:
            return
        await handler(event or self.repository.to_domain_event(_aggregate_id(message), message), uow)

    async def _read_ahead(self, end: int) -> None:
        """Feed the cache the newest part of the stream (past the batch ending at `end`) before the batch.

        A worker behind the stream's end also writes aggregates that others wrote after its batch: in a
        surge, triage records repeat calls on, links and re-scores complaints that dispatch has routed or
        escalated since. Its copies were behind, the commit was refused and the batch redone: 42% of the
        events triage handled in `bench/surge.py` were handled again. Those writes sit at the stream's end,
        so that is what is read (at most READ_AHEAD_WINDOW messages back; an entry whose next version lies
        before that is dropped, and loaded when needed). Only entries the cache has are fed; handlers see
        nothing a fresh load (which also reads to the end) would not show them. In order, later, a version an
        entry already has is skipped undecoded.

        Each message is read twice, which costs more than it saves where nobody else writes (a backlog
        drained alone: 50% more CPU), so it runs only for the READ_AHEAD_BATCHES batches after a stale commit.
        """
        last = await self.store.last_sequence()
        start = max(end, self._ahead, last - READ_AHEAD_WINDOW)
        while start < last:
            read = await self.store.read(after_seq=start, limit=READ_AHEAD_CHUNK, subject=">")
            if not read:
                break
            events = [m for m in read if m.subject.startswith(self._events_prefix)]
            if events:
                self._feed(events, ahead=True)
            start = read[-1].seq
        self._ahead = start

    def _feed(self, messages: list[StoredMessage], *, ahead: bool = False) -> dict[int, Any]:
        """Keep the cached aggregates up to date with the events of the batch; return the events decoded.

        The worker reads every event anyway, so an aggregate it caches never needs loading again: its
        creation starts the entry and each next version is applied as read. A version the entry has already
        (the worker's own writes, read back) is skipped; a gap drops the entry. The cache thus holds each
        aggregate as of the end of the batch at least, like a fresh load; a save still carries the expected
        sequence, and after a conflict the batch is redone from loaded aggregates (`_distrust_until`).
        """
        decoded: dict[int, Any] = {}
        cache = self.cache
        if cache is None or messages[-1].seq <= self._distrust_until:
            return decoded
        if self._stale and not ahead:  # read ahead, a stale entry stays unfed until the batch passes it
            self._stale = {i: seq for i, seq in self._stale.items() if seq >= messages[0].seq}
        for message in messages:
            aggregate_id = _aggregate_id(message)
            if aggregate_id in self._stale:
                continue
            cached = cache.get(aggregate_id)
            version = int(message.headers.get(VERSION, 0))
            if cached is None:
                if (
                    ahead  # only entries it has are brought up to date: new ones start when read in order
                    or version != Aggregate.INITIAL_VERSION
                    or message.headers.get(TOPIC) not in self._creation_topics
                ):
                    continue
            elif cached.pending_events or version <= cached.version:
                continue
            elif version != cached.version + 1:
                cache.evict([cached])
                continue
            try:
                event = self.repository.to_domain_event(aggregate_id, message)
                aggregate = event.mutate(cached)
            except Exception:  # undecodable: its handler (if any) dead-letters it; the entry is not trusted
                if cached is not None:
                    cache.evict([cached])
                continue
            decoded[message.seq] = event
            cache.keep([aggregate])
            self.repository.remember(aggregate_id, version, message.seq)
        return decoded

    async def _commit(
        self, uow: UnitOfWork, position: int, extra: list[Write] | None = None, *, more: bool = False
    ) -> None:
        """Store the unit of work's new events with the tracking record at `position`, all or nothing.
        `more`: the batch goes on in this unit of work (committed in parts)."""
        tracking_write = self.tracking.advance_to(self.store, position)
        changed = uow.changed
        if self.cache is not None and self.cache.read_only:
            # Entries of these kinds are not checked against the stream's end, so one may be behind: its save
            # is then refused and the batch redone from fresh loads, correct but slow. Say so: a handler was
            # not meant to change it (`Worker(read_only_types=...)`).
            for aggregate in changed:
                if isinstance(aggregate, self.cache.read_only):
                    self.log.warning("read_only_aggregate_changed", kind=type(aggregate).__name__)
        try:
            writes = await self.repository.writes_for(*changed)
        # It may read the stream (an expected sequence not remembered): a failure there is the store's, as below.
        except StoreError:
            self._forget_changed(uow)
            raise
        except Exception as exc:  # a new event the mapper cannot encode: the handler's output, not the store
            self._forget_changed(uow)
            raise _Unstorable(exc) from exc
        extra = extra or []
        if len(writes) + len(extra) + 1 > MAX_BATCH:
            self._forget_changed(uow)
            raise _Unstorable(RuntimeError(f"one event produced too many effects ({len(writes)} new events)"))
        try:
            positions = await self.appender.append([*writes, *extra, tracking_write])
        except ConcurrencyConflict as conflict:
            self._forget_changed(uow)
            stale = await self._behind(writes)
            if stale:
                raise _StaleAggregates(stale) from conflict
            raise
        except StoreUnavailable:
            self._forget_changed(uow)
            raise
        except (StoreError, nats.errors.Error, ValueError) as exc:
            # Refused for good (StoreError), failed in the client (a message over max_payload) or answered
            # unreadably: never stored, or stored with the tracking record, which then refuses the redo. It
            # used to stop the worker at the same batch on every restart, the good events before it held back.
            self._forget_changed(uow)
            raise _Unstorable(exc) from exc
        except BaseException:
            self._forget_changed(uow)
            raise
        self.tracking = Tracking(self.name, position, positions[-1])
        self.repository.stored(changed, positions)
        uow.stored(twins=more)
        if self.cache is not None:
            self.cache.keep(uow.loaded)

    async def _behind(self, writes: list[Write]) -> list[UUID]:
        """After a refused commit: the aggregates whose expected sequence is no longer their subject's last."""
        expected = {
            UUID(w.subject.rsplit(".", 1)[1]): w.expected_last_seq
            for w in writes
            if w.expected_last_seq is not None
        }
        return list(await self.repository.moved(expected))

    def _forget_changed(self, uow: UnitOfWork) -> None:
        """Handlers changed these aggregates in memory, and that will not be stored: drop them from the cache
        and put back the twins made before the change (events/twins.py).

        An aggregate only changes through new (pending) events, so every other cached one is still exactly as
        stored."""
        if self.cache is not None:
            self.cache.evict(uow.changed)
            self.cache.keep(uow.twins)  # all of them: an event that failed half-applied left no pending event

    def _forget_cached(self) -> None:
        """A conflict: some cached aggregate is older than the stream, and which one is unknown."""
        if self.cache is not None:
            self.cache.clear()

    async def _dead_letter(
        self, message: StoredMessage, exc: Exception, *, at: int | None = None, **more: Any
    ) -> None:
        """Set a poison event aside where command staff can see it, and move on past it (or, for a retry
        that failed again, past the request at `at`; `more` says which dead letter it retried)."""
        record = {
            "worker": self.name,
            "seq": message.seq,
            "subject": message.subject,
            "topic": message.headers.get("Levee-Topic"),
            "error": repr(exc)[:2000],
            "attempts": self.max_attempts,
            "at": self.clock().isoformat(),
            **more,
        }
        dead = Write(self.store.spec.dead_letter_subject(self.name), json.dumps(record).encode())
        await self._commit_alone(message.seq if at is None else at, [dead])
        DEAD_LETTERS.labels(self.name).inc()
        self.log.error("event_dead_lettered", seq=message.seq, topic=record["topic"], error=record["error"])

    async def _set_aside(self, message: StoredMessage, exc: Exception) -> int:
        """Dead-letter one event whose effects cannot be stored; what `process_batch` returns for it."""
        try:
            await self._dead_letter(message, exc, attempts=1)
        except ConcurrencyConflict:
            # Another instance set it aside (or went past it) first: go on from where it is.
            self._forget_cached()
            self.tracking = await load_tracking(self.store, self.name)
            self.log.debug("worker_overtaken", position=self.tracking.position)
            self.overtaken = True
            return 0
        return 1

    async def _commit_alone(self, position: int, writes: list[Write]) -> None:
        """Records of the worker's own (no aggregate changed) with its tracking record, in one batch."""
        positions = await self.appender.append([*writes, self.tracking.advance_to(self.store, position)])
        self.tracking = Tracking(self.name, position, positions[-1])


def _created_event_classes(cls: type[Aggregate]) -> list[type]:
    """Every event class that creates an aggregate of `cls` (the Created class and its subclasses)."""
    found: list[type] = []
    todo: list[type] = [cls.Created]
    while todo:
        created = todo.pop()
        found.append(created)
        todo.extend(created.__subclasses__())
    return found


def _aggregate_id(message: StoredMessage) -> UUID:
    return _id_in_subject(message.subject)


@functools.lru_cache(maxsize=8192)  # a batch and a read-ahead chunk
def _id_in_subject(subject: str) -> UUID:
    """A batch asks for each message's aggregate three times or more, and parsing a UUID takes 1.5 µs."""
    return UUID(subject.rsplit(".", 1)[1])


class _StaleAggregates(Exception):
    """A commit was refused because these aggregates had moved on since the worker's copy."""

    def __init__(self, ids: list[UUID]) -> None:
        super().__init__(f"{len(ids)} aggregates behind the stream")
        self.ids = ids


class _Unstorable(Exception):
    """A batch's effects cannot be stored: too many for one atomic batch, or an event the mapper or the stream
    refuses. Redone with fewer events, and the one event left is set aside."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}"[:300])
        self.error = error


@dataclass(frozen=True, slots=True)
class _GaveUp:
    """Every attempt at one event failed: the last error, and how many attempts there were."""

    error: Exception
    attempts: int
