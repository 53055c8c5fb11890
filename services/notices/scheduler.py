"""Scheduled progress summaries: one draft per active incident per period, on a clock tests can move.

Which incidents are active is a fold of the stream, read from the start by every new instance (memory only,
rebuilt on restart). What stops a duplicate is not that memory: the draft's id is derived from the incident
and the period, and a new aggregate's subject must be empty, so a second save of the same draft is refused.
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
from events.notice import Notice
from events.reference import Reference
from events.store import ConcurrencyConflict, JetStreamEventStore, StoreUnavailable
from events.store.aggregates import TOPIC, AggregateNotFound, AggregateStore
from services.notices.drafting import incident_figures, summary_notice
from services.notices.summary import FactsMemo, SummaryPolicy, slot_occasion, summary_notice_id
from services.notices.superseding import SummaryDrafts
from services.runtime.metrics import SUMMARY_CHECKS_FAILED

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
    ) -> None:
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
        # Where each incident's latest event is, and, per active incident, the slot and that position when a
        # tick last had nothing (more) to draft for it. Until the incident changes or the slot turns, the
        # answer is the same: no read. Every tick read each active incident's draft, and each incident too
        # small for a summary in full: a surge's hundreds of incidents, every 5 s, each read scanning
        # nats-server's blocks from the incident's first event to its last.
        self.changed_at: dict[UUID, int] = {}
        self.settled: dict[UUID, tuple[str, int]] = {}

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
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass

    async def tick(self) -> int:
        """Fold what is new, then draft this period's summary for each active incident lacking one."""
        await self.catch_up()
        occasion = slot_occasion(self.clock(), self.policy.every)
        drafted = 0
        for incident_id in self.settled.keys() - self.active:
            del self.settled[incident_id]
        for incident_id in self.changed_at.keys() - self.active:  # made active again by an event it records
            del self.changed_at[incident_id]
        for incident_id in sorted(self.active - self.failed):
            changed = self.changed_at.get(incident_id, 0)
            if self.settled.get(incident_id) == (occasion, changed):
                continue
            try:
                done, seen = await self._draft(incident_id, occasion)
            except StoreUnavailable:
                raise  # transient and not this incident's fault: `run` waits and tries again
            except Exception as exc:
                self._failed(incident_id, exc)
                continue
            drafted += done
            # Drafted (or there already): settled for the period. Nothing to draft: settled as of what was
            # read, which a replica behind the stream may answer with less than `changed`; then read again.
            self.settled[incident_id] = (occasion, changed if seen is None else min(changed, seen))
        return drafted

    async def catch_up(self) -> None:
        while messages := await self.store.read(after_seq=self.position, limit=1000):
            for message in messages:
                self.position = message.seq
                if self.drafts is not None:
                    self.drafts.fold(message, self.repository)  # read from the start, every event: complete
                topic = message.headers.get(TOPIC, "")
                if not topic.startswith(INCIDENT_PREFIX):
                    continue
                incident_id = UUID(message.subject.rsplit(".", 1)[1])
                if topic not in INCIDENT_TOPICS:
                    if incident_id in self.active:
                        self.changed_at[incident_id] = message.seq
                    continue
                self.changed_at[incident_id] = message.seq
                try:
                    event = self.repository.to_domain_event(incident_id, message)
                except Exception as exc:
                    # One poison event (the notices worker dead-letters it) must not stop the summaries of
                    # every other incident: raised here it would crash the service on every restart.
                    self._failed(incident_id, exc, seq=message.seq)
                    continue
                if isinstance(event, IncidentMerged):
                    self.active.discard(incident_id)  # merged into another: that one is summarised
                    continue
                status = event.status if isinstance(event, IncidentStatusUpdated) else "investigating"
                (self.active.discard if status == "resolved" else self.active.add)(incident_id)

    def _failed(self, incident_id: UUID, exc: Exception, *, seq: int | None = None) -> None:
        if incident_id not in self.failed:
            self.failed.add(incident_id)
            SUMMARY_CHECKS_FAILED.inc()
            log.error("summary_check_failed", incident_id=str(incident_id), seq=seq, error=repr(exc)[:500])

    async def _draft(self, incident_id: UUID, occasion: str) -> tuple[int, int | None]:
        """Draft the period's summary if due: (1 if drafted, else 0; the stream position of the incident as
        read, or None when the draft was there already and the incident not read)."""
        notice_id = summary_notice_id(incident_id, occasion)
        try:
            await self.repository.get(notice_id, Notice)
            return 0, None
        except AggregateNotFound:
            pass
        incident = await self.repository.get(incident_id, Incident)
        seen = self.repository.known_position(incident_id, incident.version) or 0
        if not incident.is_active or not self.policy.summarises(len(incident.complaint_ids)):
            return 0, seen  # nothing to report yet, or too small for a public bulletin nobody asked for
        numbers = await incident_figures(incident, self.repository, self.memo)
        notice = summary_notice(
            incident, occasion, numbers, reference=self.reference, policy=self.policy, now=self.clock()
        )
        try:
            await self.repository.save(notice)  # a new subject: refused if this draft already exists
        except ConcurrencyConflict:
            return 0, None
        log.info("summary_drafted", incident_id=str(incident_id), notice_id=str(notice_id), occasion=occasion)
        return 1, None
