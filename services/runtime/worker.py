"""A pull-based stream worker that applies every effect exactly once.

Loop: read a batch after the tracked position (batch direct get, never a push consumer), run each event's
handler in one unit of work, then store every new event *and* the advanced tracking record in one atomic
batch. Only after that commit is the batch done; a crash anywhere before it redoes the batch, and the
tracking record's expected sequence makes a second commit of the same batch impossible.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from events.store import ConcurrencyConflict, JetStreamEventStore, StoreUnavailable, Write
from events.store.aggregates import TOPIC, AggregateStore, Appender
from events.store.jetstream import MAX_BATCH
from events.store.records import StoredMessage
from services.runtime.metrics import CONSUMER_LAG, DEAD_LETTERS, HANDLER_FAILURES, LagMeter
from services.runtime.tracking import Tracking, check_no_gap, load_tracking
from services.runtime.unit_of_work import AggregateCache, UnitOfWork

log = structlog.get_logger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Clock = Callable[[], datetime]


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
        batch_size: int = 200,
        max_attempts: int = 5,
        clock: Clock = utc_now,
        appender: Appender | None = None,
        cache_types: tuple[type[Aggregate], ...] = (),
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
        self.cache = AggregateCache(cache_types) if cache_types else None
        self.lag_meter = LagMeter()
        self.log = log.bind(worker=name)

    async def start(self) -> None:
        self.tracking = await load_tracking(self.store, self.name)
        await check_no_gap(self.store, self.tracking)
        self.log.info("worker_started", position=self.tracking.position)

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 0.05) -> None:
        """Process until `stop` is set; the batch in hand is finished first (shutdown drains)."""
        await self.start()
        while not stop.is_set():
            try:
                done = await self.process_batch()
            except StoreUnavailable as exc:
                self.log.warning("worker_store_unavailable", error=str(exc))
                done = 0
                await _wait(stop, 1.0)
                continue
            await self.report_lag(done)
            if done == 0:
                await _wait(stop, idle_wait)

    async def report_lag(self, done: int) -> None:
        """After each batch: an empty read means no lag; a busy loop reads the lag at most once a second."""
        if done == 0:
            CONSUMER_LAG.labels(self.name).set(0)
        elif self.lag_meter.due():
            try:
                CONSUMER_LAG.labels(self.name).set(await self.lag())
            except StoreUnavailable as exc:  # only the gauge goes stale; the next batch says more
                self.log.warning("worker_lag_unavailable", error=str(exc))

    async def lag(self) -> int:
        """Events in the stream this worker has not yet processed."""
        return await self.store.count_after(self.tracking.position)

    async def process_batch(self) -> int:
        """Read and commit one batch; return how many stream messages it covered (0: nothing new)."""
        messages = await self.store.read(after_seq=self.tracking.position, limit=self.batch_size)
        if not messages:
            return 0
        for _ in range(50):
            try:
                await self._commit_batch(messages)
                return len(messages)
            except _TooManyEffects as overflow:
                # The effects of these events do not fit in one atomic batch: redo fewer of them.
                self.log.info("batch_split", events=len(messages), effects=overflow.args[0])
                self._forget_cached()
                if len(messages) == 1:
                    await self._dead_letter(messages[0], RuntimeError("one event produced too many effects"))
                    return 1
                messages = messages[: len(messages) // 2]
                continue
            except ConcurrencyConflict as conflict:
                # Another instance committed this batch, or staff changed an aggregate under us.
                self._forget_cached()
                moved = await load_tracking(self.store, self.name)
                if moved.seq != self.tracking.seq:
                    self.log.info("worker_overtaken", position=moved.position)
                    self.tracking = moved
                    return 0
                self.log.info("worker_retry_conflict", detail=conflict.detail)
            except BaseException:
                self._forget_cached()
                raise
        raise RuntimeError(f"{self.name}: batch after {self.tracking.position} kept conflicting")

    async def _commit_batch(self, messages: list[StoredMessage]) -> None:
        uow = UnitOfWork(self.repository, now=self.clock(), cache=self.cache)
        # Most handlers first load the aggregate their event belongs to: fetch those together.
        await uow.prefetch({_aggregate_id(m) for m in messages if m.headers.get(TOPIC) in self.handlers})
        for index, message in enumerate(messages):
            uow.position = message.seq
            try:
                await self._handle(message, uow)
            except (ConcurrencyConflict, StoreUnavailable):
                raise
            except Exception:
                # Commit what came before the failing event, then give that one event its own tries.
                self._forget_cached()
                if index:
                    await self._commit_batch(messages[:index])
                await self._handle_alone(message)
                return
        await self._commit(uow, messages[-1].seq)

    async def _handle_alone(self, message: StoredMessage) -> None:
        for attempt in range(1, self.max_attempts + 1):
            uow = UnitOfWork(self.repository, now=self.clock(), position=message.seq, cache=self.cache)
            try:
                await self._handle(message, uow)
            except (ConcurrencyConflict, StoreUnavailable, _TooManyEffects):
                raise
            except Exception as exc:
                self._forget_cached()
                self.log.warning("handler_failed", seq=message.seq, attempt=attempt, error=repr(exc))
                HANDLER_FAILURES.labels(self.name).inc()
                if attempt < self.max_attempts:
                    await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
                    continue
                await self._dead_letter(message, exc)
                return
            await self._commit(uow, message.seq)
            return

    async def _handle(self, message: StoredMessage, uow: UnitOfWork) -> None:
        handler = self.handlers.get(message.headers.get(TOPIC, ""))
        if handler is None:
            return
        await handler(self.repository.to_domain_event(_aggregate_id(message), message), uow)

    async def _commit(self, uow: UnitOfWork, position: int) -> None:
        tracking_write = self.tracking.advance_to(self.store, position)
        changed = uow.changed
        writes = await self.repository.writes_for(*changed)
        if len(writes) + 1 > MAX_BATCH:
            raise _TooManyEffects(len(writes))
        positions = await self.appender.append([*writes, tracking_write])
        self.repository.stored(changed, positions)
        if self.cache is not None:
            self.cache.keep(changed)
        self.tracking = Tracking(self.name, position, positions[-1])

    def _forget_cached(self) -> None:
        """Handlers may have changed cached aggregates in memory before a failure: start clean."""
        if self.cache is not None:
            self.cache.clear()

    async def _dead_letter(self, message: StoredMessage, exc: Exception) -> None:
        """Set a poison event aside where command staff can see it, and move on past it."""
        record = {
            "worker": self.name,
            "seq": message.seq,
            "subject": message.subject,
            "topic": message.headers.get("Levee-Topic"),
            "error": repr(exc)[:2000],
            "attempts": self.max_attempts,
            "at": self.clock().isoformat(),
        }
        dead = Write(self.store.spec.dead_letter_subject(self.name), json.dumps(record).encode())
        tracking_write = self.tracking.advance_to(self.store, message.seq)
        positions = await self.appender.append([dead, tracking_write])
        self.tracking = Tracking(self.name, message.seq, positions[-1])
        DEAD_LETTERS.labels(self.name).inc()
        self.log.error("event_dead_lettered", seq=message.seq, topic=record["topic"], error=record["error"])


def _aggregate_id(message: StoredMessage) -> UUID:
    return UUID(message.subject.rsplit(".", 1)[1])


class _TooManyEffects(Exception):
    """A batch's new events and its tracking record would not fit in one atomic batch."""


async def _wait(stop: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    except TimeoutError:
        pass
