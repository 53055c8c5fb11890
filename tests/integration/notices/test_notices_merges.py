"""Summaries and merged incidents, against a real nats-server: the merged one gets no more automatic summaries,
and the one it was merged into counts its complaints (a threshold passed by the merge brings its draft)."""

from __future__ import annotations

from datetime import timedelta

from events.mapper import make_mapper
from events.notice import Notice
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.notices.app import build
from services.notices.summary import SummaryPolicy, slot_occasion, summary_notice_id
from tests.integration.notices.test_notices_service import (
    FakeClock,
    drafted,
    drain,
    incident_with_complaints,
)

POLICY = SummaryPolicy(thresholds=(5,), every=timedelta(hours=1), min_complaints=1)


async def test_a_merged_incident_gets_no_more_summaries_and_its_target_counts_its_complaints(
    store: JetStreamEventStore,
) -> None:
    repository = AggregateStore(store, make_mapper())
    target = await incident_with_complaints(repository, 2)
    merged = await incident_with_complaints(repository, 4)
    clock = FakeClock()
    worker, scheduler = build(store, policy=POLICY, clock=clock)
    await drain(worker)
    assert await scheduler.tick() == 2  # both active this period
    merged.merge_into(target, by="cmd-wu", reason="one flood")
    await repository.save(merged, target)

    await drain(worker)  # the merge took the target from 2 to 6 complaints: past the threshold at 5
    on_threshold = summary_notice_id(target.id, "complaints-5")
    notice = await repository.get(on_threshold, Notice)
    assert "6 reports" in notice.body_en and notice.incident_id == target.id
    clock.now += timedelta(hours=1)
    assert await scheduler.tick() == 1  # the target only
    slot = slot_occasion(clock.now, POLICY.every)
    found = set(await drafted(store))
    assert str(summary_notice_id(target.id, slot)) in found
    assert str(summary_notice_id(merged.id, slot)) not in found
    assert await build(store, policy=POLICY, clock=clock)[1].tick() == 0  # a restarted instance folds it too
