"""One current summary draft per incident, against a real nats-server (and PostgreSQL for the staff list).

A new automatic draft withdraws the incident's older automatic drafts still waiting for approval, naming
itself; a person's text and an approved draft stay; an incident too small for a public bulletin gets none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from itertools import pairwise
from uuid import UUID

import asyncpg
import pytest
from eventsourcing.utils import get_topic
from structlog.testing import capture_logs

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.notice import Notice, NoticeApproved, NoticeCancelled
from events.reference import load_reference
from events.store import JetStreamEventStore, StoreUnavailable, Write
from events.store.aggregates import TOPIC, VERSION, AggregateStore
from projections.migrate import migrate
from projections.runner import ProjectionRunner
from services.api.read_queries import staff_notices
from services.notices.app import build, handler_table
from services.notices.scheduler import SummaryScheduler
from services.notices.summary import DRAFTED_BY, SummaryPolicy, slot_occasion, summary_notice_id
from services.notices.superseding import SummaryDrafts
from services.runtime.worker import Worker
from tests.integration.notices.test_notices_service import (
    FakeClock,
    drafted,
    drain,
    incident_with_complaints,
)

# Thresholds at 6 and 8, then every 8; one per period; nothing below 5 linked complaints.
POLICY = SummaryPolicy(thresholds=(6, 8), every=timedelta(hours=1), min_complaints=5)
TEXT = {
    "title_en": "Flooding in Westbay", "title_zh": "西湾区内涝",
    "body_en": "Crews are pumping; avoid Harbour Road.", "body_zh": "正在抽水，请避开海港路。",
    "status": "investigating",
}  # fmt: skip


async def link_more(repository: AggregateStore, incident: Incident, count: int) -> None:
    for n in range(count):
        complaint = Complaint.receive(
            channel="hotline", description=f"More water {n}", received_by="operator-chen",
            category="flooding", district="westbay",
        )  # fmt: skip
        complaint.link_to_incident(incident.id)
        incident.link_complaint(complaint.id)
        await repository.save(complaint, incident)


async def notices_of(
    store: JetStreamEventStore, incident_id: UUID, *, skip: frozenset[UUID] | set[UUID] = frozenset()
) -> list[Notice]:
    """Every notice of the incident (but `skip`), in the order they were drafted."""
    repository = AggregateStore(store, make_mapper())
    found = []
    for notice_id in await drafted(store):
        if UUID(notice_id) in skip:
            continue
        notice = await repository.get(UUID(notice_id), Notice)
        if notice.incident_id == incident_id:
            found.append(notice)
    return found


async def last_event(store: JetStreamEventStore) -> int:
    position = 0
    while messages := await store.read(after_seq=position):  # events only, not tracking records
        position = messages[-1].seq
    return position


async def count_of(store: JetStreamEventStore, event_class: type) -> int:
    topic, position, total = get_topic(event_class), 0, 0
    while messages := await store.read(after_seq=position):
        position = messages[-1].seq
        total += sum(1 for m in messages if m.headers.get(TOPIC) == topic)
    return total


class Grower:
    """One incident growing under a notices worker and its scheduler (one process's pair, as `build` makes)."""

    def __init__(self, store: JetStreamEventStore, clock: FakeClock) -> None:
        self.store, self.clock = store, clock
        self.repository = AggregateStore(store, make_mapper())
        self.worker, self.scheduler = build(store, policy=POLICY, clock=clock)

    async def start(self, complaints: int) -> Incident:
        self.incident = await incident_with_complaints(self.repository, complaints)
        await drain(self.worker)
        return self.incident

    async def grow(self, count: int) -> None:
        await link_more(self.repository, self.incident, count)
        await drain(self.worker)

    async def next_period(self) -> int:
        self.clock.now += POLICY.every
        drafted = await self.scheduler.tick()
        await drain(self.worker)
        return drafted

    def slot(self) -> UUID:
        return summary_notice_id(self.incident.id, slot_occasion(self.clock.now, POLICY.every))

    def at(self, count: int) -> UUID:
        return summary_notice_id(self.incident.id, f"complaints-{count}")


async def test_threshold_and_period_drafts_of_a_growing_incident_leave_exactly_one_live_draft(
    store: JetStreamEventStore,
) -> None:
    grower = Grower(store, FakeClock())
    await grower.start(5)
    assert await grower.scheduler.tick() == 1  # 5 linked: big enough for the period's draft
    await drain(grower.worker)
    first_slot = grower.slot()
    await grower.grow(1)  # 6: a threshold
    assert await grower.next_period() == 1
    second_slot = grower.slot()
    await grower.grow(2)  # 8: a threshold
    await grower.grow(8)  # 16: a multiple of the last
    assert await grower.next_period() == 1

    notices = await notices_of(store, grower.incident.id)
    order = [first_slot, grower.at(6), second_slot, grower.at(8), grower.at(16), grower.slot()]
    assert [n.id for n in notices] == order
    live = [n for n in notices if n.state == "draft"]
    assert [n.id for n in live] == [grower.slot()]
    assert "16 reports" in live[0].body_en
    for older, newer in pairwise(notices):
        # Each was replaced by the very next one, which names it in the reason.
        assert (older.state, older.superseded_by) == ("cancelled", newer.id)
        assert older.cancel_reason == f"Superseded by draft {newer.id}"
    assert await count_of(store, NoticeCancelled) == 5


async def test_a_persons_draft_a_revised_summary_and_an_approved_summary_survive_newer_summaries(
    store: JetStreamEventStore,
) -> None:
    grower = Grower(store, FakeClock())
    incident = await grower.start(5)
    repository = grower.repository
    by_hand = Notice.draft(incident_id=incident.id, drafted_by="press-li", **TEXT)
    await repository.save(by_hand)
    assert await grower.scheduler.tick() == 1
    await drain(grower.worker)
    approved = await repository.get(grower.slot(), Notice)
    approved.approve("cmd-wu")  # command approved it: press decides whether to publish, not the service
    await repository.save(approved)
    await grower.grow(1)  # 6: a threshold draft
    revised = await repository.get(grower.at(6), Notice)
    revised.revise(revised_by="press-zhao", **TEXT)  # a person's text now
    await repository.save(revised)
    await grower.grow(2)  # 8: a threshold draft, replacing no one
    assert await grower.next_period() == 1  # replaces the one at 8

    states = {n.id: (n.state, n.author) for n in await notices_of(store, incident.id)}
    assert states == {
        by_hand.id: ("draft", "press-li"),
        approved.id: ("approved", DRAFTED_BY),
        revised.id: ("draft", "press-zhao"),
        grower.at(8): ("cancelled", DRAFTED_BY),
        grower.slot(): ("draft", DRAFTED_BY),
    }
    assert await count_of(store, NoticeCancelled) == 1


async def test_an_incident_of_two_complaints_gets_no_automatic_summary_until_it_reaches_the_minimum(
    store: JetStreamEventStore,
) -> None:
    policy = SummaryPolicy(thresholds=(2,), every=timedelta(hours=1))  # the default minimum: 5
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    small = await incident_with_complaints(repository, 2)
    worker, scheduler = build(store, policy=policy, clock=clock)
    await drain(worker)
    assert await scheduler.tick() == 0
    clock.now += policy.every
    assert await scheduler.tick() == 0
    assert await drafted(store) == []  # neither the threshold at 2 nor 4, nor any period
    by_hand = Notice.draft(incident_id=small.id, drafted_by="press-li", **TEXT)  # press still may
    await repository.save(by_hand)
    await link_more(repository, small, 4)  # 6: a multiple of 2, and big enough now
    await drain(worker)
    assert await drafted(store) == [str(by_hand.id), str(summary_notice_id(small.id, "complaints-6"))]
    assert (await repository.get(by_hand.id, Notice)).state == "draft"


class CrashOnce:
    """An appender that loses the first commit carrying a withdrawal: the process died before the commit."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store, self.armed = store, True

    async def append(self, writes: Sequence[Write]) -> list[int]:
        cancelling = any(w.headers.get(TOPIC) == get_topic(NoticeCancelled) for w in writes)
        if self.armed and cancelling:
            self.armed = False
            raise StoreUnavailable("crashed before the commit")
        return await self.store.append(writes)


async def test_a_redone_batch_a_restarted_worker_and_a_restarted_scheduler_withdraw_nothing_twice(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    incident = await incident_with_complaints(repository, 5)
    drafts = SummaryDrafts()
    scheduler = SummaryScheduler(
        store, AggregateStore(store, make_mapper()), clock=clock, policy=POLICY, reference=load_reference(),
        drafts=drafts,
    )  # fmt: skip
    crashing = CrashOnce(store)
    worker = Worker(
        "notices", store, AggregateStore(store, make_mapper()),
        handler_table(POLICY, load_reference(), drafts=drafts), appender=crashing, cache_types=(Incident, Notice),
    )  # fmt: skip
    assert await scheduler.tick() == 1
    await link_more(repository, incident, 1)  # 6: the threshold draft replaces the period's
    await worker.start()
    with pytest.raises(StoreUnavailable, match="crashed before the commit"):
        async with asyncio.timeout(30):
            while await worker.process_batch():
                pass
    assert not crashing.armed and await count_of(store, NoticeCancelled) == 0
    async with asyncio.timeout(30):  # the same batch again, as `Worker.run` does after StoreUnavailable
        while await worker.process_batch():
            pass
    assert await count_of(store, NoticeCancelled) == 1

    # A restarted process: its worker resumes after the committed batch, its scheduler folds from the start.
    end = await last_event(store)
    restarted_worker, restarted_scheduler = build(store, policy=POLICY, clock=clock)
    await drain(restarted_worker)
    assert await restarted_scheduler.tick() == 0  # this period's draft exists (withdrawn, but drafted)
    # Everything redone from the start under another name: it finds every older draft withdrawn already.
    redo = Worker(
        "notices-redo", store, AggregateStore(store, make_mapper()), handler_table(POLICY, load_reference())
    )
    await drain(redo)
    assert await last_event(store) == end  # no event written since: tracking records only
    assert await count_of(store, NoticeCancelled) == 1
    period = await repository.get(
        summary_notice_id(incident.id, slot_occasion(clock.now, POLICY.every)), Notice
    )
    assert (period.state, period.superseded_by) == (
        "cancelled",
        summary_notice_id(incident.id, "complaints-6"),
    )


async def test_the_staff_list_shows_superseded_drafts_as_such_after_the_others(
    store: JetStreamEventStore, database_url: str
) -> None:
    grower = Grower(store, FakeClock())
    incident = await grower.start(5)
    by_hand = Notice.draft(incident_id=incident.id, drafted_by="press-li", **TEXT)
    await grower.repository.save(by_hand)
    assert await grower.scheduler.tick() == 1
    await drain(grower.worker)
    first_slot = grower.slot()
    await grower.grow(1)  # 6: replaces the period's draft
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        runner = ProjectionRunner(store, conn)
        await runner.start()
        await runner.catch_up()
        rows = await staff_notices(conn)
    finally:
        await conn.close()
    listed = [(r["id"], r["state"]) for r in rows]
    assert listed[-1] == (first_slot, "superseded")
    assert sorted(listed[:-1]) == sorted([(by_hand.id, "draft"), (grower.at(6), "draft")])
    assert next(r for r in rows if r["id"] == first_slot)["cancelled_at"] is not None


async def test_a_draft_in_the_stream_before_the_worker_started_is_still_superseded(
    store: JetStreamEventStore,
) -> None:
    """The index is a fold from the stream's start, not of what this process saw: drafts left by an older
    process, or by one before this feature, are replaced by the next one all the same."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    incident = await incident_with_complaints(repository, 5)
    earlier, _ = build(store, policy=POLICY, clock=clock)
    _, earlier_scheduler = build(store, policy=POLICY, clock=clock)
    assert await earlier_scheduler.tick() == 1
    await drain(earlier)  # commits its position past the period's draft, then the process "stops"
    await link_more(repository, incident, 1)
    worker, _ = build(store, policy=POLICY, clock=clock)  # no scheduler running: the worker reads alone
    await drain(worker)
    period = await repository.get(
        summary_notice_id(incident.id, slot_occasion(clock.now, POLICY.every)), Notice
    )
    assert (period.state, period.superseded_by) == (
        "cancelled",
        summary_notice_id(incident.id, "complaints-6"),
    )


async def test_an_unreadable_older_draft_is_skipped_and_does_not_poison_the_newer_summary(
    store: JetStreamEventStore,
) -> None:
    grower = Grower(store, FakeClock())
    incident = await grower.start(5)
    assert await grower.scheduler.tick() == 1
    await drain(grower.worker)
    broken = grower.slot()
    await store.append([
        Write(store.spec.event_subject(broken), b"{undecodable",
              {TOPIC: get_topic(NoticeApproved), VERSION: "2"}),
    ])  # fmt: skip
    with capture_logs() as logs:
        await grower.grow(1)  # 6: a threshold draft, which cannot read the period's draft
    assert [e["notice_id"] for e in logs if e["event"] == "summary_supersede_skipped"] == [str(broken)]
    assert await store.read_subject(store.spec.dead_letter_subject("notices")) == []
    assert [n.state for n in await notices_of(store, incident.id, skip={broken})] == ["draft"]
