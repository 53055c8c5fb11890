"""The deadline watcher: escalates a complaint once per missed deadline, on a clock tests can move.

Where the schedule lives: in memory, as a fold of the stream (pull reads, never a push consumer), so a restart
loses no deadline. A new watcher starts from the schedule it last shelved (events/store/shelf.py; at most a
minute old in a surge) and folds only the stream after it; without a usable shelf, from the start of the
stream (minutes at millions of messages, and no deadline is looked at meanwhile). What stops a repeat is not
that memory but the aggregate: before acting the watcher reloads the complaint's whole history, decides from
it (``timeline.escalations_due``: the missed deadlines no watcher escalation has recorded yet, by name),
and saves with the expected-sequence check, so of two watchers, or a watcher and staff, only one write lands
and the loser decides again from the new history on its next check.

One complaint never stops the others: a look that fails (an undecodable event in its history, a fold or
a rule that raises) is logged as ``deadline_check_failed``, counted, and retried after a bounded number of
ticks (doubling, at most ``MAX_SKIPPED_TICKS``); only a store outage, which every look would hit, ends a tick.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from events.backoff import Backoff, wait_or_stop
from events.complaint import Complaint
from events.deadlines import DEADLINE_EVENTS, WATCHER, DeadlineState, fold, fold_all
from events.errors import DomainError
from events.mapper import reconstruct
from events.reference import Reference, load_reference
from events.store import ConcurrencyConflict, JetStreamEventStore, StoreError, StoreUnavailable
from events.store.aggregates import TOPIC, AggregateStore
from events.store.records import StoredMessage
from events.store.shelf import Shelf, identity
from services.dispatch.deadline_shelf import ScheduleShelf
from services.dispatch.metrics import (
    DEADLINE_CHECK_FAILURES,
    DEADLINE_SHELVING_FAILURES,
    DEADLINE_WATCHER_BEHIND,
    DEADLINE_WATCHER_TICK,
)
from services.dispatch.timeline import escalations_due
from services.runtime.metrics import DEADLINES_MISSED

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
MAX_SKIPPED_TICKS = 64  # a complaint that keeps failing is still looked at about once a minute
# Complaints looked at (read, decided, escalated) at once: one at a time, 469 deadlines that fell due while the
# service was down took 7.5 s to escalate after its restart (16 ms each); thousands in a surge, over a minute.
LOOKS_AT_ONCE = 16
__all__ = ["WATCHER", "DeadlineWatcher"]


class DeadlineWatcher:
    def __init__(
        self,
        store: JetStreamEventStore,
        repository: AggregateStore,
        *,
        clock: Clock,
        page: int = 1000,
        reference: Reference | None = None,
        shelf: Shelf | None = None,
    ) -> None:
        self.store = store
        self.repository = repository
        self.clock = clock
        self.page = page
        self.reference = reference or load_reference()  # the deadline lengths of each level
        # Where the schedule is kept between runs; None: every start folds the stream from the start.
        self.shelf = None if shelf is None else ScheduleShelf(shelf, store, self.reference)
        self.position = 0  # how far into the stream the schedule is folded
        self.schedule: dict[UUID, DeadlineState] = {}
        # When each scheduled complaint next needs a look (its earliest deadline that could be missed), and a heap
        # of those times: a tick pops what is due. Scanning the whole schedule every second cost 0.67 us a case,
        # 0.67 s a tick at a million open cases, on the loop dispatch's worker shares. Entries a later fold moved
        # stay in the heap until their time, then are skipped (`_looks` rebuilt when they pile up).
        self._look_at: dict[UUID, datetime] = {}
        self._looks: list[tuple[datetime, int, UUID]] = []
        self._order = itertools.count()  # ties in the heap keep the order they were pushed in
        self._checking = False
        self._folding: tuple[int, float] | None = None  # the first fold's end and start, until it is done
        self._caught_up = False
        # Resolved complaints, kept small (level, agreed time, escalations) so a reopen has a clock to start.
        self.dormant: dict[UUID, DeadlineState] = {}
        self.failures: dict[UUID, int] = {}  # consecutive failed looks per complaint
        self.skipping: dict[UUID, int] = {}  # ticks still to skip before the next look
        self._topics = frozenset(get_topic(cls) for cls in DEADLINE_EVENTS)
        self._restored = shelf is None  # the shelf is read once, before the first fold
        self._last: str | None = (
            None  # the identity of the message at `position` (events.store.shelf.identity)
        )

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        log.info("deadline_watcher_started")
        DEADLINE_WATCHER_TICK.set_to_current_time()  # its first look folds the whole stream: minutes, not a stop
        backoff = Backoff(first=interval)  # while the store refuses: 1, 2, 4 ... 10 s between looks
        while not stop.is_set():
            wait = interval
            try:
                await self.tick()
                backoff.succeeded()
                DEADLINE_WATCHER_TICK.set_to_current_time()  # a stuck watcher shows: no escalation is news
            except StoreUnavailable as exc:
                wait = backoff.next_delay()
                log.warning(
                    "deadline_watcher_store_unavailable", error=str(exc), failed=backoff.failed, retry_in=wait
                )
            else:
                if self.shelf is not None and self._caught_up and self.shelf.fold.due(self.position):
                    await self.shelve()
            await wait_or_stop(stop, wait)
        if self.shelf is not None and self._caught_up:
            await self.shelf.fold.at_stop(self.position, self.shelve)

    async def tick(self) -> int:
        """Fold what is new in the stream, then escalate what is due now; return how many escalations."""
        await self.catch_up()
        return await self.check()

    async def catch_up(self) -> None:
        """Fold the stream from `position` on. The first after a start folds all of it: how far it still has to go
        is a gauge (levee_deadline_watcher_behind_messages), and the end is logged with how long it took."""
        if self._caught_up:
            end, began = 0, 0.0  # a tick's few new events need no gauge
        else:  # the first fold, or one a store outage interrupted: its end and start are kept until it is done
            if self._folding is None:
                began = time.monotonic()
                await self._restore()
                self._folding = (await self._stream_end(), began)
            end, began = self._folding
        while messages := await self.store.read(after_seq=self.position, limit=self.page):
            self._fold_page(messages)
            DEADLINE_WATCHER_BEHIND.set(max(0, end - self.position))
        DEADLINE_WATCHER_BEHIND.set(0)
        if not self._caught_up:
            self._caught_up, self._folding = True, None
            log.info(
                "deadline_watcher_caught_up", position=self.position, seconds=round(time.monotonic() - began, 1),
                watched=len(self.schedule),
            )  # fmt: skip

    async def _restore(self) -> None:
        """Start from the shelved schedule when it may be used (deadline_shelf.py), else from the start. Once per
        watcher: while the stream (or the shelf, a few times) does not answer, the next tick asks again."""
        if self._restored or self.shelf is None:
            return
        began = time.monotonic()
        restored = await self.shelf.restore()
        self._restored = True
        if restored is None:
            return
        self.position, self._last = restored.position, restored.last
        for count, state in enumerate(restored.schedule.schedule.values(), 1):
            self._keep(state)
            if count % 10_000 == 0:
                await asyncio.sleep(0)  # the worker shares this loop
        self.dormant.update(restored.schedule.dormant)
        log.info(
            "deadline_watcher_restored", position=self.position, watched=len(self.schedule),
            dormant=len(self.dormant), seconds=round(time.monotonic() - began, 2),
        )  # fmt: skip

    async def shelve(self) -> None:
        """Shelve the schedule as folded now (its position with it); a failure is logged, never raised: the
        stream still holds everything, and the next try is at the next threshold."""
        if self.shelf is None or self._last is None:
            return
        position, last, began = self.position, self._last, time.monotonic()
        try:
            # The states are immutable: copies of the two maps are the schedule at `position`.
            size = await self.shelf.put(position, last, dict(self.schedule), dict(self.dormant))
        except Exception as exc:  # the shelf is a cache: the watcher goes on without it
            DEADLINE_SHELVING_FAILURES.inc()
            log.warning("deadline_watcher_not_shelved", error=repr(exc)[:500])
            return
        log.info("deadline_watcher_shelved", position=position, watched=len(self.schedule), bytes=size,
                 seconds=round(time.monotonic() - began, 2))  # fmt: skip

    async def _stream_end(self) -> int:
        """Where the first fold ends, for the gauge only: a stream that cannot say (StoreError) reads as 0."""
        try:
            return await self.store.last_sequence()
        except StoreError as exc:
            if isinstance(exc, StoreUnavailable):
                raise  # the fold's reads would fail too: the run loop waits
            return 0

    def _fold_page(self, messages: list[StoredMessage]) -> None:
        if messages:
            self._last = identity(messages[-1])
        for message in messages:
            self.position = message.seq
            if message.headers.get(TOPIC) not in self._topics:
                continue  # most events never touch a deadline: not even decoded
            complaint_id = UUID(message.subject.rsplit(".", 1)[1])
            try:
                event = self.repository.to_domain_event(complaint_id, message)
            except Exception as exc:
                # A poison event: the dispatch worker dead-letters it; raised here it would crash the
                # whole service on every restart and stop routing for good.
                log.error("deadline_event_undecodable", seq=message.seq, topic=message.headers.get(TOPIC),
                          error=repr(exc)[:500])  # fmt: skip
                continue
            state = (self.schedule.get(complaint_id) or self.dormant.pop(complaint_id, None)
                     or DeadlineState(complaint_id))  # fmt: skip
            try:
                self._keep(fold(state, event, self.reference))
            except Exception as exc:
                # Unfoldable (e.g. a level the reference no longer has): the look reloads and decides.
                log.error("deadline_event_unfoldable", complaint_id=str(complaint_id), seq=message.seq,
                          error=repr(exc)[:500])  # fmt: skip

    async def check(self) -> int:
        now = self.clock()
        popped: dict[UUID, datetime] = {}  # one look per case however many entries it has in the heap
        while self._looks and self._looks[0][0] < now:  # a deadline is missed once now is past it
            at, _, complaint_id = heapq.heappop(self._looks)
            if self._look_at.get(complaint_id) == at:  # else moved by a later fold: a stale entry
                popped.setdefault(complaint_id, at)
        self._checking = True
        gate = asyncio.Semaphore(LOOKS_AT_ONCE)

        async def look(complaint_id: UUID) -> int:
            async with gate:
                try:
                    escalated = await self._escalate(complaint_id, now)
                except StoreUnavailable:
                    raise  # every look would fail the same way: the run loop waits for the store
                except Exception as exc:
                    self._failed(complaint_id, exc)
                    return 0
                self.failures.pop(complaint_id, None)
                return escalated

        due = [
            complaint_id
            for complaint_id in popped
            if (state := self.schedule.get(complaint_id)) is not None
            and escalations_due(state, now)
            and not self._skip(complaint_id)
        ]
        looks = [asyncio.ensure_future(look(complaint_id)) for complaint_id in due]
        try:
            return sum(await asyncio.gather(*looks))
        finally:
            for pending in looks:  # the store failed one: the others would each wait out its timeout
                pending.cancel()
            self._checking = False
            # Still due at the same time (skipped, failed, a conflict, not looked at yet): looked at next tick.
            for complaint_id, at in popped.items():
                if complaint_id in self.schedule and self._look_at.get(complaint_id) == at:
                    self._push(complaint_id, at)

    def _push(self, complaint_id: UUID, at: datetime) -> None:
        heapq.heappush(self._looks, (at, next(self._order), complaint_id))
        # Mostly stale entries: keep the live ones only; not while a check holds popped entries (it would add
        # one for each of them, and its re-push another).
        if not self._checking and len(self._looks) > 2 * len(self._look_at) + 1024:
            self._looks = [(t, next(self._order), c) for c, t in self._look_at.items()]
            heapq.heapify(self._looks)

    def _skip(self, complaint_id: UUID) -> bool:
        left = self.skipping.pop(complaint_id, 0)
        if left > 0:
            self.skipping[complaint_id] = left - 1
        return left > 0

    def _failed(self, complaint_id: UUID, exc: Exception) -> None:
        # One bad history must not stop the city's other deadlines: log, count, and look again later.
        failures = self.failures.get(complaint_id, 0) + 1
        self.failures[complaint_id] = failures
        self.skipping[complaint_id] = min(2 ** (failures - 1), MAX_SKIPPED_TICKS) - 1
        DEADLINE_CHECK_FAILURES.inc()
        log.error("deadline_check_failed", complaint_id=str(complaint_id), failures=failures,
                  error=repr(exc)[:500])  # fmt: skip

    async def _escalate(self, complaint_id: UUID, now: datetime) -> int:
        # The schedule only said "look": the decision is made again on the complaint's full, fresh history.
        events = await self.repository.history(complaint_id)
        complaint = reconstruct(events, Complaint)
        state = fold_all(complaint_id, events, self.reference)
        escalations = escalations_due(state, now)
        self._keep(state)
        if not escalations or not complaint.is_open:
            return 0
        try:
            for escalation in escalations:
                complaint.escalate(escalation.level, escalation.reason, by=WATCHER, deadline_missed=True)
            recorded = list(complaint.pending_events)
            # Expects the complaint's subject unchanged since the read above: a concurrent write wins.
            await self.repository.save(complaint)
        except ConcurrencyConflict:
            log.info("deadline_escalation_conflict", complaint_id=str(complaint_id))
            return 0
        except DomainError as exc:
            log.warning("deadline_escalation_refused", complaint_id=str(complaint_id), code=exc.code)
            return 0
        for escalation in escalations:
            DEADLINES_MISSED.labels(str(escalation.level)).inc()
            log.info(
                "complaint_escalated",
                complaint_id=str(complaint_id),
                level=escalation.level,
                reason=escalation.reason,
            )
        for event in recorded:  # what was just written is folded now, so the next tick does not look again
            state = fold(state, event, self.reference)
        self._keep(state)
        return len(escalations)

    def _keep(self, state: DeadlineState) -> None:
        # A complaint with nothing open and nothing left to record leaves the schedule; a later event
        # (a dispatch, a reopen, an extension) brings it back, and a look always reloads the history.
        at = state.next_look()  # None: not watched
        if at is not None:
            self.schedule[state.complaint_id] = state
            if self._look_at.get(state.complaint_id) != at:  # pushed only when its look time changed
                self._look_at[state.complaint_id] = at
                self._push(state.complaint_id, at)
            self.dormant.pop(state.complaint_id, None)
        else:
            self.schedule.pop(state.complaint_id, None)
            self._look_at.pop(state.complaint_id, None)
            if not state.ended:
                self.dormant[state.complaint_id] = state.dormant()
            self.failures.pop(state.complaint_id, None)
            self.skipping.pop(state.complaint_id, None)
