"""Scheduled progress summaries: one draft per active incident per period, on a clock tests can move.

Which incidents are active, and each active incident itself, are a fold of the stream, read from the start by a
new instance, or from where its shelf says (summary_shelf.py: the active incidents and the drafts index, each
active incident then read once at the next tick): a tick reads no incident's history, except that of an
incident made active again after it was resolved, or not held since a restart. What stops a duplicate is not
that memory: the draft's id is derived from the incident and the period, and a new aggregate's subject must be
empty, so a second save of the same draft is refused.
An incident with fewer linked complaints than the policy's minimum gets no scheduled draft (press may write
one). The same reading feeds the index of the service's own drafts that the worker supersedes older ones by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from events.incident import Incident, IncidentDeclared, IncidentMerged, IncidentStatusUpdated
from events.reference import Reference
from events.store import ConcurrencyConflict, JetStreamEventStore, StoreUnavailable
from events.store.aggregates import TOPIC, AggregateStore
from events.store.shelf import FoldShelf, Shelf, identity
from services.notices import summary_shelf
from services.notices.drafting import incident_figures, summary_notice
from services.notices.metrics import SUMMARY_CHECKS_FAILED
from services.notices.summary import FactsMemo, SummaryPolicy, slot_occasion, summary_notice_id
from services.notices.superseding import SummaryDrafts

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
INCIDENT_TOPICS = frozenset(
    get_topic(cls) for cls in (IncidentDeclared, IncidentStatusUpdated, IncidentMerged)
)
INCIDENT_PREFIX = get_topic(Incident).partition(":")[0] + ":"  # every event of an incident


class SummaryScheduler:
    def __init__(
        self,
        store: JetStreamEventStore,
        repository: AggregateStore,
        *,
        clock: Clock,
        policy: SummaryPolicy,
        reference: Reference,
        memo: FactsMemo | None = None,
        drafts: SummaryDrafts | None = None,
        shelf: Shelf | None = None,
    ) -> None:
        # Where the fold is kept between runs (summary_shelf.py); None: every start folds from the start.
        self.shelf = (
            None
            if shelf is None
            else FoldShelf(shelf, store, fingerprint=summary_shelf.fingerprint, reader="summary_scheduler")
        )
        self._restored = shelf is None
        self._last: str | None = None  # the identity of the message at `position`
        self._seen: dict[UUID, int] = {}  # incidents not held: the last position of theirs this fold read
        self.memo = memo
        self.drafts = drafts
        self.store = store
        self.repository = repository
        self.clock = clock
        self.policy = policy
        self.reference = reference
        self.position = 0
        self.active: set[UUID] = set()
        self.failed: set[UUID] = set()  # incidents whose history cannot be read: skipped until a restart
        # Each active incident as of `position` (at least), folded from the stream the scheduler reads anyway:
        # a tick reads no incident from the store. Reading them by subject, each tick read each changed one
        # again (in a surge, most of them): at 250/s for 240 s, 2,304 incident and draft histories, each a
        # scan of nats-server's blocks from the subject's first message to its last. A resolved or merged
        # incident is let go (its complaints with it); one made active again is read once, at the next tick.
        self.incidents: dict[UUID, Incident] = {}
        # The period each incident's summary was drafted (or found drafted) for: nothing more to do in it.
        self.drafted: dict[UUID, str] = {}

    async def run(self, stop: asyncio.Event, *, interval: float = 5.0, fold_every: float = 1.0) -> None:
        """Draft every `interval` seconds; in between, fold what is new every `fold_every` seconds, while the
        worker's reads of it are still in the store's read window (services/notices/app.py)."""
        loop = asyncio.get_running_loop()
        next_draft = loop.time()
        while not stop.is_set():
            wait = min(interval, fold_every)
            try:
                if loop.time() >= next_draft:
                    await self.tick()
                    next_draft = loop.time() + interval
                else:
                    await self.catch_up()
            except StoreUnavailable as exc:
                log.warning("summary_scheduler_store_unavailable", error=str(exc))
                wait = interval  # an outage is not asked about (nor logged) every second
            else:
                if self.shelf is not None and self.shelf.due(self.position):
                    await self.shelve()
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass
        if self.shelf is not None and self._restored:
            await self.shelf.at_stop(self.position, self.shelve)

    async def shelve(self) -> None:
        """Shelve the active incidents and the drafts index as folded now; a failure is logged, never raised."""
        if self.shelf is None or self._last is None:
            return
        position, last = self.position, self._last
        # The drafts index as of the same position (the worker may have folded it further): the stream is checked
        # at that position only, so nothing after it may be taken on trust.
        drafts = self.drafts.shelved(upto=position) if self.drafts is not None else {}
        try:
            await self.shelf.put(position, last, summary_shelf.encode(self.active, position, drafts))
        except Exception as exc:  # a cache: the scheduler goes on without it
            log.warning("summary_scheduler_not_shelved", error=repr(exc)[:500])
            return
        log.info("summary_scheduler_shelved", position=position, active=len(self.active))

    async def _restore(self) -> None:
        """Start from the shelved fold when it may be used, else from the start; once (a stream outage leaves it
        to the next call). The active incidents are read at the next tick."""
        if self._restored or self.shelf is None:
            return
        folded = await self.shelf.restore()
        self._restored = True
        if folded is None:
            return
        try:
            restored = summary_shelf.decode(folded.data)
        except ValueError as exc:
            self.shelf.from_start("the shelved fold is unreadable", error=repr(exc), level="warning")
            return
        self.position, self._last, self.active = folded.position, folded.last, restored.active
        if self.drafts is not None:
            self.drafts.restore(restored.drafts_position, restored.drafts)
        log.info("summary_scheduler_restored", position=self.position, active=len(self.active))

    async def tick(self) -> int:
        """Fold what is new, then draft this period's summary for each active incident lacking one."""
        await self.catch_up()
        occasion = slot_occasion(self.clock(), self.policy.every)
        drafted = 0
        for incident_id in self.drafted.keys() - self.active:
            del self.drafted[incident_id]
        for incident_id in sorted(self.active - self.failed):
            if self.drafted.get(incident_id) == occasion:
                continue  # done for this period
            try:
                incident = self.incidents.get(incident_id) or await self._load(incident_id)
                if not incident.is_active or not self.policy.summarises(len(incident.complaint_ids)):
                    continue  # nothing to report yet, or too small for a public bulletin nobody asked for
                drafted += await self._draft(incident, occasion)
            except StoreUnavailable:
                raise  # transient and not this incident's fault: `run` waits and tries again
            except Exception as exc:
                self._failed(incident_id, exc)
                continue
            self.drafted[incident_id] = occasion
        return drafted

    async def catch_up(self) -> None:
        await self._restore()
        while messages := await self.store.read(after_seq=self.position, limit=1000):
            self._last = identity(messages[-1])
            for message in messages:
                self.position = message.seq
                if self.drafts is not None:
                    self.drafts.fold(message, self.repository)  # read from the start, every event: complete
                topic = message.headers.get(TOPIC, "")
                if not topic.startswith(INCIDENT_PREFIX):
                    continue
                incident_id = UUID(message.subject.rsplit(".", 1)[1])
                if incident_id in self.failed:
                    continue
                held = self.incidents.get(incident_id)
                if held is None and (incident_id in self.active or topic in INCIDENT_TOPICS):
                    self._seen[incident_id] = message.seq  # how far a later read of it must reach
                if held is None and topic not in INCIDENT_TOPICS:
                    continue  # a link to an incident not held (resolved or merged): nothing to summarise
                try:
                    event = self.repository.to_domain_event(incident_id, message)
                    if held is None and not isinstance(event, IncidentDeclared):
                        # A status change while not held: active again, it is read in full at the next tick.
                        self._mark(incident_id, event)
                        continue
                    if held is None or event.originator_version > held.version:  # else loaded past it
                        held = event.mutate(held)
                except Exception as exc:
                    # One poison event (the notices worker dead-letters it) must not stop the summaries of
                    # every other incident: raised here it would crash the service on every restart.
                    self._failed(incident_id, exc, seq=message.seq)
                    self.incidents.pop(incident_id, None)
                    self.active.discard(incident_id)
                    continue
                self._mark(incident_id, event)
                if incident_id in self.active:
                    self.incidents[incident_id] = held
                else:
                    self.incidents.pop(incident_id, None)

    def _mark(self, incident_id: UUID, event: object) -> None:
        """Active or not, by an incident's declaration, status change or merge; other events change nothing."""
        if isinstance(event, IncidentMerged) or (
            isinstance(event, IncidentStatusUpdated) and event.status == "resolved"
        ):  # merged into another (that one is summarised), or resolved
            self.active.discard(incident_id)
            self._seen.pop(incident_id, None)
        elif isinstance(event, IncidentDeclared | IncidentStatusUpdated):
            self.active.add(incident_id)

    async def _load(self, incident_id: UUID) -> Incident:
        """An active incident not held (made active again after it was resolved, or since a restart from the
        shelf): its history, read once, as far as this fold has seen it go (a replica a moment behind would
        hand back fewer events, and the next one would not fold on)."""
        incident = await self.repository.get(incident_id, Incident, at_least=self._seen.pop(incident_id, 0))
        self.incidents[incident_id] = incident
        return incident

    def _failed(self, incident_id: UUID, exc: Exception, *, seq: int | None = None) -> None:
        if incident_id not in self.failed:
            self.failed.add(incident_id)
            SUMMARY_CHECKS_FAILED.inc()
            log.error("summary_check_failed", incident_id=str(incident_id), seq=seq, error=repr(exc)[:500])

    async def _draft(self, incident: Incident, occasion: str) -> int:
        """Draft the period's summary of an incident large enough for one: 1 if drafted, 0 if there already."""
        notice_id = summary_notice_id(incident.id, occasion)
        # Its last message only (one block of nats-server's), not its history: a draft lives on for hours.
        if await self.store.last_message(self.store.spec.event_subject(notice_id)) is not None:
            return 0
        numbers = await incident_figures(incident, self.repository, self.memo)
        notice = summary_notice(
            incident, occasion, numbers, reference=self.reference, policy=self.policy, now=self.clock()
        )
        try:
            await self.repository.save(notice)  # a new subject: refused if this draft already exists
        except ConcurrencyConflict:
            return 0
        log.info("summary_drafted", incident_id=str(incident.id), notice_id=str(notice_id), occasion=occasion)
        return 1
