"""The notices service against a real nats-server: summary drafts on thresholds and on a schedule, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from events.complaint import Complaint
from events.incident import ComplaintAddedToIncident, Incident, IncidentDeclared
from events.mapper import make_mapper
from events.notice import Notice, NoticeDrafted
from events.reference import load_reference
from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, VERSION, AggregateStore
from events.store.records import StoredMessage
from services.notices.app import build, handler_table
from services.notices.summary import SummaryPolicy, slot_occasion, summary_notice_id
from services.runtime.worker import Worker

# Drafts at 2, 3, 6, 9, ...; from the first linked complaint on (the default minimum is tested apart).
POLICY = SummaryPolicy(thresholds=(2, 3), every=timedelta(hours=1), min_complaints=1)
FACTORS = [{"name": "x", "weight": 1, "value": 1, "evidence": "y"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 9, 1, 8, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def drain(worker: Worker) -> None:
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass


async def incident_with_complaints(repository: AggregateStore, count: int) -> Incident:
    incident = Incident.declare(
        title="Typhoon flooding", kind="flood", districts=["westbay"], declared_by="cmd-wu"
    )
    await repository.save(incident)
    for n in range(count):
        complaint = Complaint.receive(
            channel="hotline", description=f"Water in flat {n}", received_by="operator-chen",
            category="flooding", district="westbay",
        )  # fmt: skip
        complaint.validate()
        now = datetime.now(UTC)
        complaint.assess_priority(50, "P2", FACTORS, now + timedelta(hours=1), now + timedelta(days=1))
        complaint.dispatch("drainage", by="dispatch", reason="route")
        if n % 2 == 0:
            complaint.accept("drainage")
        complaint.link_to_incident(incident.id)
        incident.link_complaint(complaint.id)
        await repository.save(complaint, incident)
    return incident


async def drafted(store: JetStreamEventStore) -> list[str]:
    topic = get_topic(NoticeDrafted)
    found: list[str] = []
    position = 0
    while messages := await store.read(after_seq=position):
        position = messages[-1].seq
        found += [m.subject.rsplit(".", 1)[1] for m in messages if m.headers.get(TOPIC) == topic]
    return found


async def test_summaries_are_drafted_at_thresholds_then_multiples_of_the_last_once_even_when_redone(
    store: JetStreamEventStore,
) -> None:
    repository = AggregateStore(store, make_mapper())
    incident = await incident_with_complaints(repository, 10)
    worker, _ = build(store, policy=POLICY, clock=FakeClock())
    await drain(worker)
    # A redo: the same work done again from position 0 (another tracking name) drafts nothing new.
    redo = Worker(
        "notices-redo", store, AggregateStore(store, make_mapper()), handler_table(POLICY, load_reference())
    )
    await drain(redo)
    # The thresholds 2 and 3, then multiples of the last: none at 1, 4, 5, 7, 8 or 10.
    expected = {str(summary_notice_id(incident.id, f"complaints-{n}")) for n in (2, 3, 6, 9)}
    assert sorted(await drafted(store)) == sorted(expected)
    sixth = await repository.get(summary_notice_id(incident.id, "complaints-6"), Notice)
    ninth = await repository.get(summary_notice_id(incident.id, "complaints-9"), Notice)
    assert ninth.state == "draft" and sixth.incident_id == ninth.incident_id == incident.id
    assert (sixth.state, sixth.superseded_by) == ("cancelled", ninth.id)  # each newer one replaced the last
    assert "10 reports" in sixth.body_en  # figures as of when it was drafted: all ten already linked
    assert "已派发责任部门10件" in sixth.body_zh


async def test_scheduled_summaries_once_per_period_and_active_incident_across_restarts(
    store: JetStreamEventStore,
) -> None:
    repository = AggregateStore(store, make_mapper())
    active = await incident_with_complaints(repository, 1)
    resolved = await incident_with_complaints(repository, 1)
    resolved.update_status("resolved", by="cmd-wu")
    await repository.save(resolved)
    clock = FakeClock()
    _, scheduler = build(store, policy=POLICY, clock=clock)
    assert await scheduler.tick() == 1
    assert await scheduler.tick() == 0
    assert await build(store, policy=POLICY, clock=clock)[1].tick() == 0  # a restarted instance
    clock.now += timedelta(hours=1)
    racing = [build(store, policy=POLICY, clock=clock)[1] for _ in range(2)]
    assert sum(await asyncio.gather(*(s.tick() for s in racing))) == 1
    assert sorted(await drafted(store)) == sorted(
        str(summary_notice_id(active.id, slot_occasion(t, POLICY.every)))
        for t in (clock.now - timedelta(hours=1), clock.now)
    )


async def test_levee_serve_notices_drafts_a_scheduled_summary_and_stops_on_request(
    store: JetStreamEventStore, nats_url: str
) -> None:
    from services.notices.app import run
    from services.settings import Settings

    # The default policy: an incident of 5 complaints is big enough for a scheduled summary.
    incident = await incident_with_complaints(AggregateStore(store, make_mapper()), 5)
    stop = asyncio.Event()
    service = asyncio.create_task(run(Settings(nats_url=nats_url, nats_stream=store.spec.name), stop))
    async with asyncio.timeout(10):
        while not await drafted(store):
            await asyncio.sleep(0.02)
        stop.set()
        await service
    (notice_id,) = await drafted(store)
    notice = await AggregateStore(store, make_mapper()).get(UUID(notice_id), Notice)
    assert notice.incident_id == incident.id and notice.state == "draft"


async def test_a_poison_incident_event_is_skipped_and_the_other_incidents_still_get_summaries(
    store: JetStreamEventStore,
) -> None:
    repository = AggregateStore(store, make_mapper())
    healthy = await incident_with_complaints(repository, 1)
    broken_later = await incident_with_complaints(repository, 1)
    unreadable = uuid4()
    await store.append([
        # A malformed declaration: before the guard, `run` raised MapperDeserialisationError (a crash loop).
        Write(store.spec.event_subject(unreadable), b"{undecodable",
              {TOPIC: get_topic(IncidentDeclared), VERSION: "1"}, expected_last_seq=0),
        # A readable declaration, then a poison event only loading the whole incident meets.
        Write(store.spec.event_subject(broken_later.id), b"{undecodable",
              {TOPIC: get_topic(ComplaintAddedToIncident), VERSION: str(broken_later.version + 1)}),
    ])  # fmt: skip
    failed_before = REGISTRY.get_sample_value("levee_summary_checks_failed_total") or 0.0
    _, scheduler = build(store, policy=POLICY, clock=FakeClock())
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(scheduler.run(stop, interval=0.02))
        try:
            async with asyncio.timeout(10):
                while not await drafted(store):
                    assert not running.done(), running.exception()
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await running  # returns: nothing raised out of the loop
    assert await drafted(store) == [
        str(summary_notice_id(healthy.id, slot_occasion(FakeClock()(), POLICY.every)))
    ]
    failures = {entry["incident_id"] for entry in logs if entry["event"] == "summary_check_failed"}
    assert failures == {str(unreadable), str(broken_later.id)}
    assert REGISTRY.get_sample_value("levee_summary_checks_failed_total") == failed_before + 2


async def test_between_drafts_the_scheduler_keeps_folding_what_is_new(store: JetStreamEventStore) -> None:
    """It drafts every `interval`, but reads the stream every `fold_every`: while the worker's reads of those
    messages are still in the store's read window. An incident declared after a round waits for the next."""
    repository = AggregateStore(store, make_mapper())
    first = await incident_with_complaints(repository, 1)
    _, scheduler = build(store, policy=POLICY, clock=FakeClock())
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop, interval=3600, fold_every=0.02))
    try:
        async with asyncio.timeout(10):
            while len(await drafted(store)) < 1:
                await asyncio.sleep(0.02)
            later = await incident_with_complaints(repository, 1)
            end = await store.last_message(store.spec.event_subject(later.id))
            assert end is not None
            while scheduler.position < end.seq:  # folded within a few rounds of `fold_every`
                assert not running.done(), running.exception()
                await asyncio.sleep(0.02)
        assert later.id in scheduler.active
        assert await drafted(store) == [
            str(summary_notice_id(first.id, slot_occasion(FakeClock()(), POLICY.every)))
        ]
    finally:
        stop.set()
        await running


class CountingStore(JetStreamEventStore):
    """The real store, noting the subjects it is asked about: each history read by subject is a scan of
    nats-server's blocks from the subject's first message to its last."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.histories: list[str] = []
        self.lasts: list[str] = []

    async def read_subject(
        self, subject: str, *, after_seq: int = 0, since: datetime | None = None
    ) -> list[StoredMessage]:
        self.histories.append(subject)
        return await super().read_subject(subject, after_seq=after_seq, since=since)

    async def last_message(self, subject: str) -> StoredMessage | None:
        self.lasts.append(subject)
        return await super().last_message(subject)

    def asked(self) -> int:
        return len(self.histories) + len(self.lasts)


async def link_one(repository: AggregateStore, incident: Incident) -> None:
    more = Complaint.receive(channel="hotline", description="Water again", received_by="operator-chen")
    more.link_to_incident(incident.id)
    incident.link_complaint(more.id)
    await repository.save(more, incident)


POLICY_OF_FIVE = SummaryPolicy(thresholds=(50,), every=timedelta(hours=1))  # the default minimum: 5


async def test_a_tick_reads_no_incident_history_and_nothing_more_once_the_period_is_drafted(
    store: JetStreamEventStore,
) -> None:
    """The incidents are folded from the stream the scheduler reads anyway: a tick reads neither an
    incident's history nor a draft's, and an incident drafted for this period is not asked about again."""
    repository = AggregateStore(store, make_mapper())
    small = await incident_with_complaints(repository, 3)
    big = await incident_with_complaints(repository, 5)
    counting, clock = CountingStore(store.nc, store.spec), FakeClock()
    _, scheduler = build(counting, policy=POLICY_OF_FIVE, clock=clock)
    assert await scheduler.tick() == 1  # the big one; the small one is too small
    asked = counting.asked()
    for _ in range(3):
        assert await scheduler.tick() == 0
    assert counting.asked() == asked  # nothing new: nothing asked
    await link_one(repository, small)
    await link_one(repository, big)
    assert await scheduler.tick() == 0  # four: still too small; the big one has this period's summary
    assert counting.asked() == asked  # both judged from the fold
    await link_one(repository, small)
    assert await scheduler.tick() == 1  # five: this period's summary, without waiting for the next
    clock.now += POLICY_OF_FIVE.every
    assert await scheduler.tick() == 2  # a new period: both summarised again
    periods = [slot_occasion(t, POLICY_OF_FIVE.every) for t in (clock.now - POLICY_OF_FIVE.every, clock.now)]
    assert sorted(await drafted(store)) == sorted(
        str(summary_notice_id(i, p)) for i in (small.id, big.id) for p in periods
    )
    incidents = {store.spec.event_subject(i) for i in (small.id, big.id)}
    drafts = {store.spec.event_subject(summary_notice_id(i, p)) for i in (small.id, big.id) for p in periods}
    assert not (incidents | drafts) & set(counting.histories)
    assert sorted(counting.lasts) == sorted(drafts)  # whether each draft is there: its last message, once


async def test_an_incident_resolved_then_active_again_is_read_once_and_summarised_as_it_is(
    store: JetStreamEventStore,
) -> None:
    """A resolved incident is let go, complaints and all; made active again, it is read once and summarised
    with what it holds now."""
    repository = AggregateStore(store, make_mapper())
    flood = await incident_with_complaints(repository, 5)
    counting, clock = CountingStore(store.nc, store.spec), FakeClock()
    _, scheduler = build(counting, policy=POLICY_OF_FIVE, clock=clock)
    assert await scheduler.tick() == 1
    flood.update_status("resolved", by="cmd-wu")
    await repository.save(flood)
    assert await scheduler.tick() == 0
    assert flood.id not in scheduler.incidents
    clock.now += POLICY_OF_FIVE.every
    assert await scheduler.tick() == 0  # resolved: nothing in the new period
    flood.update_status("investigating", by="cmd-wu")  # the water came back
    await repository.save(flood)
    await link_one(repository, flood)
    assert await scheduler.tick() == 1  # active again: this period's summary
    assert await scheduler.tick() == 0
    assert counting.histories.count(store.spec.event_subject(flood.id)) == 1
    notice = await repository.get(summary_notice_id(flood.id, slot_occasion(clock.now, POLICY_OF_FIVE.every)))
    assert isinstance(notice, Notice) and "6 reports" in notice.body_en
