"""Dispatch against a real nats-server: routing once, re-routing on return, escalation, deadlines."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from events.complaint import Complaint, ComplaintDispatched, ComplaintEscalated, DispatchAccepted
from events.mapper import make_mapper
from events.store import JetStreamEventStore, StoreUnavailable
from events.store.aggregates import TOPIC, VERSION, AggregateStore
from events.store.records import Write
from services.dispatch import deadlines as deadlines_module
from services.dispatch.app import build, run
from services.dispatch.deadlines import WATCHER, DeadlineWatcher
from services.runtime.worker import Worker
from services.settings import Settings
from services.triage import app as triage_app

FACTORS = [{"name": "flooding_in_home", "weight": 0.5, "value": 1, "evidence": "water in the flat"}]


class FakeClock:
    """Starts at the real time (events carry real timestamps) and moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.start = self.now

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, after: timedelta) -> None:
        self.now = self.start + after


async def drain(worker: Worker) -> None:
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass


async def new_complaint(
    repository: AggregateStore,
    clock: FakeClock,
    *,
    level: str = "P2",
    category: str = "flooding",
    district: str = "old_town",
    media: bool = False,
) -> UUID:
    complaint = Complaint.receive(
        channel="hotline", description="Water in the ground floor flat.", received_by="operator-chen",
        category=category, district=district, people_affected=2, media_exposure=media,
    )  # fmt: skip
    complaint.validate()
    accept, resolve = {"P1": (15, 240), "P2": (60, 1440)}[level]
    complaint.assess_priority(
        70, level, FACTORS, clock.now + timedelta(minutes=accept), clock.now + timedelta(minutes=resolve)
    )
    await repository.save(complaint)
    return complaint.id


async def history(repository: AggregateStore, complaint_id: UUID) -> list[Any]:
    return await repository.history(complaint_id)


async def dispatched_to(repository: AggregateStore, complaint_id: UUID) -> list[str]:
    return [
        e.department for e in await history(repository, complaint_id) if isinstance(e, ComplaintDispatched)
    ]


async def escalations(repository: AggregateStore, complaint_id: UUID) -> list[tuple[int, str]]:
    return [
        (e.level, e.by) for e in await history(repository, complaint_id) if isinstance(e, ComplaintEscalated)
    ]


async def test_priority_assessed_leads_to_exactly_one_dispatch_to_the_routed_department(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, clock)
    worker, _ = build(store, clock=clock)
    await drain(worker)
    # A re-assessment and a restarted worker change nothing: the complaint is already with a department.
    complaint = await repository.get(complaint_id, Complaint)
    complaint.assess_priority(
        75, "P2", FACTORS, clock.now + timedelta(hours=1), clock.now + timedelta(days=1)
    )
    await repository.save(complaint)
    await drain(build(store, clock=clock)[0])
    assert await dispatched_to(repository, complaint_id) == ["drainage"]
    assert await escalations(repository, complaint_id) == []


async def test_a_return_re_routes_never_back_and_two_returns_go_to_command(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, clock, district="eastpoint")
    worker, _ = build(store, clock=clock)
    await drain(worker)
    for _ in range(2):
        complaint = await repository.get(complaint_id, Complaint)
        assert complaint.department is not None
        complaint.return_dispatch(complaint.department, "Not ours: wrong remit")
        await repository.save(complaint)
        await drain(worker)
    assert await dispatched_to(repository, complaint_id) == ["civil_affairs", "drainage", "command"]
    complaint = await repository.get(complaint_id, Complaint)
    assert complaint.department == "command" and complaint.returned_by == ["civil_affairs", "drainage"]


async def test_a_first_contact_case_reopened_and_handed_on_by_the_hotline_office_is_routed(
    store: JetStreamEventStore,
) -> None:
    """Triage never assessed it (settled on the call); reopened by an unhappy follow-up and returned by the
    office, it goes to the category's department all the same, never stuck without a level."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="hotline", description="No water on Hill Road since noon.", received_by="operator-chen",
        category="water_outage", district="old_town",
    )  # fmt: skip
    complaint.resolve(
        "hotline_office", "Gave the published restoration time", "first_contact", "answer:water"
    )
    complaint.record_follow_up(True, "not_satisfied", "still no water at night")
    complaint.reopen("still no water at night")
    complaint.return_dispatch("hotline_office", "the water company must send a crew")
    await repository.save(complaint)
    await drain(build(store, clock=clock)[0])
    assert await dispatched_to(repository, complaint.id) == ["water"]


@pytest.mark.parametrize(
    ("description", "category", "department"),
    [
        ("Strong smell of gas in our stairwell, we have opened the windows.", "gas_leak", "gas"),
        ("No mobile signal since last night, I cannot reach my family.", "telecom_outage", "telecom"),
        ("新田大道供水主管爆了，我们这几栋楼没有自来水。", "water_outage", "water"),
    ],
)
async def test_a_complaint_filed_without_a_category_goes_where_triage_classified_it(
    store: JetStreamEventStore, description: str, category: str, department: str
) -> None:
    """Most of the public gives no category: triage's classification must reach routing (it used to stay in
    the priority factors, and every such complaint went to the command queue as 'no category')."""
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="web", description=description, received_by="public", district="old_town"
    )
    await repository.save(complaint)
    await drain(triage_app.build_worker(store, triage_app.default_deps()))
    await drain(build(store, clock=FakeClock())[0])
    assert (await repository.get(complaint.id, Complaint)).category == category
    assert await dispatched_to(repository, complaint.id) == [department]


async def test_a_p1_or_media_exposed_complaint_escalates_to_command_at_once(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    p1 = await new_complaint(repository, clock, level="P1", category="gas_leak")
    exposed = await new_complaint(repository, clock, media=True)
    await drain(build(store, clock=clock)[0])
    await drain(build(store, clock=clock)[0])
    assert await escalations(repository, p1) == [(2, "dispatch")]
    assert await escalations(repository, exposed) == [(2, "dispatch")]
    assert await dispatched_to(repository, p1) == ["gas"]


async def test_a_media_exposed_complaint_a_department_returns_goes_to_the_next_and_up_to_command_once(
    store: JetStreamEventStore,
) -> None:
    """Each return settles the case again, and the case is already with command: escalating it again was
    refused (already_escalated), the handler failed until the event was dead-lettered, and the case stayed
    returned with no department (a mutation the suite let through)."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    exposed = await new_complaint(repository, clock, district="eastpoint", media=True)
    worker, _ = build(store, clock=clock)
    await drain(worker)
    complaint = await repository.get(exposed, Complaint)
    complaint.return_dispatch(complaint.department or "", "Not ours: wrong remit")
    await repository.save(complaint)
    await drain(worker)
    assert await dispatched_to(repository, exposed) == ["civil_affairs", "drainage"]
    assert await escalations(repository, exposed) == [(2, "dispatch")]
    assert await store.read_subject(store.spec.dead_letter_subject("dispatch")) == []


async def test_a_major_complaint_settled_on_the_call_still_goes_up_to_command_once(
    store: JetStreamEventStore,
) -> None:
    """Found by a review: settled on the call, a media-exposed or mass-impact call was never assessed nor
    dispatched, so never escalated; one plainly settled stays where it is."""
    repository = AggregateStore(store, make_mapper())
    settled = []
    for media, people in ((True, 1), (False, 900), (False, 2)):
        complaint = Complaint.receive(
            channel="social_media", description="When is the power back in Old Town?", received_by="operator-chen",
            category="power_outage", district="old_town", people_affected=people, media_exposure=media,
        )  # fmt: skip
        complaint.resolve("hotline_office", "Read out the notice", "first_contact", "answer:power")
        settled.append(complaint)
    await repository.save(*settled)
    for _ in range(2):  # a second run (a restart) escalates nothing again
        await drain(build(store, clock=FakeClock())[0])
    exposed, mass, plain = (c.id for c in settled)
    assert await escalations(repository, exposed) == [(2, "dispatch")]
    assert await escalations(repository, mass) == [(2, "dispatch")]
    assert await escalations(repository, plain) == []
    assert await dispatched_to(repository, exposed) == []


async def test_a_mass_impact_complaint_escalates_on_triages_estimate_of_people_affected(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="hotline", description="整栋楼停电，300户没有电", received_by="operator-chen",
        category="power_outage", district="old_town",
    )  # fmt: skip  # people_affected typed: the form's default 1
    complaint.validate()
    estimate = {"name": "people_affected", "weight": 12, "value": 900, "evidence": ["300户"]}
    complaint.assess_priority(
        55, "P3", [estimate], clock.now + timedelta(hours=4), clock.now + timedelta(days=3)
    )
    await repository.save(complaint)
    await drain(build(store, clock=clock)[0])
    (escalation,) = [e for e in await history(repository, complaint.id) if isinstance(e, ComplaintEscalated)]
    assert (escalation.level, escalation.by) == (2, "dispatch") and "900 people" in escalation.reason


async def test_a_complaint_at_command_that_misses_its_accept_by_is_recorded_once(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    p1 = await new_complaint(repository, clock, level="P1", category="gas_leak")
    await drain(build(store, clock=clock)[0])
    assert await escalations(repository, p1) == [(2, "dispatch")]
    missed_before = REGISTRY.get_sample_value("levee_deadlines_missed_total", {"level": "2"}) or 0
    clock.move_to(timedelta(minutes=16))  # past its 15-minute accept-by
    watcher = DeadlineWatcher(store, repository, clock=clock)
    assert await watcher.tick() == 1
    assert await watcher.tick() == 0
    assert await DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock).tick() == 0
    assert await escalations(repository, p1) == [(2, "dispatch"), (2, WATCHER)]
    assert REGISTRY.get_sample_value("levee_deadlines_missed_total", {"level": "2"}) == missed_before + 1
    (recorded,) = [e for e in await history(repository, p1) if getattr(e, "by", None) == WATCHER]
    assert recorded.reason.startswith("missed accept-by deadline")


async def test_a_re_score_just_after_a_missed_accept_by_escalates_once(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="hotline", description="Drain blocked, water rising.", received_by="operator-chen",
        category="flooding", district="old_town",
    )  # fmt: skip
    complaint.validate()
    assessed = clock.now - timedelta(hours=4, minutes=1)  # a P3: its accept-by passed a minute ago
    complaint.assess_priority(40, "P3", FACTORS, assessed + timedelta(hours=4), assessed + timedelta(days=3))
    await repository.save(complaint)
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    # The cluster grows: triage re-scores it P2 and keeps the (already past) accept-by, as _deadline_args does.
    complaint = await repository.get(complaint.id, Complaint)
    assert complaint.accept_by is not None and complaint.resolve_by is not None
    complaint.assess_priority(
        60, "P2", FACTORS, complaint.accept_by, min(clock.now + timedelta(days=1), complaint.resolve_by)
    )
    await repository.save(complaint)
    assert await watcher.tick() == 1
    assert await watcher.tick() == 0
    assert await escalations(repository, complaint.id) == [(1, WATCHER)]


async def test_a_case_returned_after_sign_for_gives_the_next_department_an_accept_by(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, clock)
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    complaint = await repository.get(complaint_id, Complaint)
    complaint.accept("drainage")
    complaint.return_dispatch("drainage", "Not ours: a burst main")
    await repository.save(complaint)
    await drain(worker)
    assert await dispatched_to(repository, complaint_id) == ["drainage", "roads"]
    clock.move_to(timedelta(minutes=59))
    assert await watcher.tick() == 0
    clock.move_to(timedelta(minutes=61))  # nobody at "roads" signed for it within the hour
    assert await watcher.tick() == 1
    (recorded,) = [e for e in await history(repository, complaint_id) if isinstance(e, ComplaintEscalated)]
    assert recorded.level == 1 and recorded.reason.startswith("missed accept-by deadline")


async def test_the_resolve_clock_starts_at_sign_for(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="web", description="Drain blocked, street flooding.", received_by="web",
        category="flooding", district="old_town",
    )  # fmt: skip
    complaint.validate()
    assessed = clock.now - timedelta(minutes=50)  # accepted 50 minutes after assessment: in time
    complaint.assess_priority(
        60, "P2", FACTORS, assessed + timedelta(hours=1), assessed + timedelta(hours=24)
    )
    await repository.save(complaint)
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    complaint = await repository.get(complaint.id, Complaint)
    complaint.accept("drainage")
    await repository.save(complaint)
    clock.move_to(timedelta(hours=23, minutes=30))  # past the assessment's resolve-by, not the accept's
    assert await watcher.tick() == 0
    clock.move_to(timedelta(hours=24, minutes=1))
    assert await watcher.tick() == 1
    (recorded,) = [e for e in await history(repository, complaint.id) if isinstance(e, ComplaintEscalated)]
    assert recorded.reason.startswith("missed resolve-by deadline")


async def test_an_undecodable_event_does_not_stop_the_watcher(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    broken, healthy = [await new_complaint(repository, clock) for _ in range(2)]
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    assert await watcher.tick() == 0  # both in the schedule, nothing due yet
    last = (await store.read_subject(store.spec.event_subject(broken)))[-1]
    await store.append([
        Write(store.spec.event_subject(broken), b"{undecodable",
              {TOPIC: get_topic(DispatchAccepted), VERSION: str(int(last.headers[VERSION]) + 1)},
              expected_last_seq=last.seq)
    ])  # fmt: skip
    failures_before = REGISTRY.get_sample_value("levee_deadline_check_failures_total") or 0
    clock.move_to(timedelta(minutes=61))
    assert await watcher.tick() == 1  # the healthy one; the broken one is logged, counted and skipped
    assert await escalations(repository, healthy) == [(1, WATCHER)]
    assert REGISTRY.get_sample_value("levee_deadline_check_failures_total") == failures_before + 1
    # It goes on watching: a complaint that falls due later is escalated too, the broken one retried.
    later = await new_complaint(repository, clock)
    await drain(worker)
    clock.move_to(timedelta(minutes=130))
    assert await watcher.tick() == 1
    assert await escalations(repository, later) == [(1, WATCHER)]
    assert watcher.failures[broken] == 2


async def test_watcher_escalates_once_per_missed_deadline_across_restarts_and_extensions(
    store: JetStreamEventStore,
) -> None:
    # Events carry real timestamps, so every command below happens at the clock's start: the
    # complaint was assessed 70 minutes "ago" (accept-by already 10 minutes past, resolve-by in 23 h),
    # and the fake clock only moves forward once nothing more is done to the complaint at an earlier time.
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint = Complaint.receive(
        channel="web", description="Drain blocked, street flooding.", received_by="web",
        category="flooding", district="old_town",
    )  # fmt: skip
    complaint.validate()
    assessed = clock.now - timedelta(minutes=70)
    complaint.assess_priority(
        60, "P2", FACTORS, assessed + timedelta(hours=1), assessed + timedelta(hours=24)
    )
    await repository.save(complaint)
    worker, watcher = build(store, clock=clock)
    await drain(worker)

    assert await watcher.tick() == 1  # first miss (accept-by): the department head
    assert await watcher.tick() == 0
    restarted = DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock)
    assert await restarted.tick() == 0
    assert await escalations(repository, complaint.id) == [(1, WATCHER)]

    # Accepted late; command grants six more hours before the resolve deadline passes.
    complaint = await repository.get(complaint.id, Complaint)
    complaint.accept("drainage")
    complaint.request_extension("drainage", 360, "Pumps arrive tomorrow")
    complaint.grant_extension("cmd-wu", 360)
    await repository.save(complaint)

    # The resolve clock started at the (late) sign-for: 24 h from it, six more granted.
    clock.move_to(timedelta(hours=24, minutes=1))  # past the unextended resolve-by
    assert await restarted.tick() == 0  # the deadline moved
    clock.move_to(timedelta(hours=30, minutes=1))  # past the extended one
    assert await restarted.tick() == 1  # second miss: command
    again = DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock)
    assert await again.tick() == 0
    assert await watcher.tick() == 0  # the first instance, still running, sees it too
    assert await escalations(repository, complaint.id) == [(1, WATCHER), (2, WATCHER)]


async def test_a_tick_looks_only_at_the_cases_whose_deadline_passed(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick scanned every open case each second (0.67 s a tick at a million, on dispatch's loop; found by a
    review of what grows with a surge). Now it takes the due ones off a heap: a P1 past its accept-by is looked
    at, the P2s ahead of theirs are not; a case whose look conflicts is looked at again the next tick."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    urgent = await new_complaint(repository, clock, level="P1")
    calm = [await new_complaint(repository, clock) for _ in range(3)]
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    looked: list[UUID] = []
    escalate = watcher._escalate

    async def counted(complaint_id: UUID, now: datetime) -> int:
        looked.append(complaint_id)
        return await escalate(complaint_id, now)

    watcher._escalate = counted  # type: ignore[method-assign]
    weighed: list[UUID] = []
    due = deadlines_module.escalations_due

    def counted_due(state: Any, now: datetime) -> Any:
        weighed.append(state.complaint_id)
        return due(state, now)

    monkeypatch.setattr(deadlines_module, "escalations_due", counted_due)
    await watcher.tick()
    assert looked == [] and set(watcher.schedule) >= {urgent, *calm}
    assert weighed == []  # nothing due: no case weighed at all (the scan weighed every one, every second)
    clock.move_to(timedelta(minutes=16))  # P1: accept within 15 minutes; P2: an hour
    assert await watcher.tick() == 1
    assert looked == [urgent]
    assert await watcher.tick() == 0 and looked == [urgent]  # recorded: not looked at again
    clock.move_to(timedelta(minutes=61))
    assert await watcher.tick() == 3
    assert sorted(looked[1:]) == sorted(calm)


async def test_a_case_in_the_heap_twice_is_looked_at_once_a_tick(store: JetStreamEventStore) -> None:
    """A look time that went T, none, T again leaves two entries for one case (found reviewing the heap): still
    one look a tick, and one entry left for the next."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    urgent = await new_complaint(repository, clock, level="P1")
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    await watcher.tick()
    watcher._push(urgent, watcher._look_at[urgent])  # a second entry, as T, none, T leaves
    looked: list[UUID] = []

    async def refused(complaint_id: UUID, now: datetime) -> int:
        looked.append(complaint_id)
        return 0  # as a conflict answers: still due, looked at again next tick

    watcher._escalate = refused  # type: ignore[method-assign]
    clock.move_to(timedelta(minutes=16))
    await watcher.tick()
    assert looked == [urgent]
    await watcher.tick()
    assert looked == [urgent, urgent]
    assert sum(1 for _, _, c in watcher._looks if c == urgent) == 1


async def test_a_case_whose_look_moved_and_was_refused_is_looked_at_again(store: JetStreamEventStore) -> None:
    """A look time moved later leaves a stale entry before the live one. Taking the stale one as the case's (a
    mutation the suite let through) put nothing back after a refused look: the missed deadline was never
    escalated."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    urgent = await new_complaint(repository, clock, level="P1")
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    await watcher.tick()
    watcher._push(
        urgent, watcher._look_at[urgent] - timedelta(minutes=5)
    )  # where the look was before it moved
    looked: list[UUID] = []

    async def refused(complaint_id: UUID, now: datetime) -> int:
        looked.append(complaint_id)
        return 0  # as a conflict answers: still due

    watcher._escalate = refused  # type: ignore[method-assign]
    clock.move_to(timedelta(minutes=16))
    await watcher.tick()
    await watcher.tick()
    assert looked == [urgent, urgent]


async def test_a_case_whose_looks_kept_failing_is_looked_at_again_within_a_bounded_wait(
    store: JetStreamEventStore,
) -> None:
    """Each failed look doubles the ticks skipped before the next, up to MAX_SKIPPED_TICKS: without that bound,
    ten failures (a bad history mended meanwhile) put the next look 511 ticks away, more after."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    await new_complaint(repository, clock, level="P1")
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    looks_at: list[int] = []
    ticks = 0

    async def failing_ten_times(complaint_id: UUID, now: datetime) -> int:
        looks_at.append(ticks)
        if len(looks_at) <= 10:
            raise ValueError("a history that cannot be read yet")
        return 0

    watcher._escalate = failing_ten_times  # type: ignore[method-assign]
    clock.move_to(timedelta(minutes=16))
    while len(looks_at) < 11 and ticks < 12 * deadlines_module.MAX_SKIPPED_TICKS:
        ticks += 1
        await watcher.tick()
    assert len(looks_at) == 11, looks_at
    assert looks_at[10] - looks_at[9] <= deadlines_module.MAX_SKIPPED_TICKS


async def test_two_watchers_racing_escalate_once(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    ids = [await new_complaint(repository, clock) for _ in range(5)]
    await drain(build(store, clock=clock)[0])
    clock.move_to(timedelta(minutes=61))
    rivals = [DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock) for _ in range(2)]
    missed_before = REGISTRY.get_sample_value("levee_deadlines_missed_total", {"level": "1"}) or 0
    done = await asyncio.gather(*(w.tick() for w in rivals))
    done += await asyncio.gather(*(w.tick() for w in rivals))
    assert sum(done) == 5
    # Only escalations that landed count: the loser of each race counts nothing.
    assert REGISTRY.get_sample_value("levee_deadlines_missed_total", {"level": "1"}) == missed_before + 5
    for complaint_id in ids:
        assert await escalations(repository, complaint_id) == [(1, WATCHER)]


async def test_a_watcher_behind_another_decides_on_the_history_and_does_not_repeat_its_escalation(
    store: JetStreamEventStore,
) -> None:
    """Two watchers that folded the stream before either escalates: the second must decide on the complaint's
    history, which has the first's escalation, not on its own schedule. Found by a mutation audit: the racing
    test above ticks both at once, so the sequence check settled the race whatever decided it."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, clock)
    await drain(build(store, clock=clock)[0])
    clock.move_to(timedelta(minutes=61))
    first, second = (
        DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock) for _ in range(2)
    )
    await first.catch_up()
    await second.catch_up()  # both have folded the stream before either escalates
    assert await first.check() == 1
    assert await second.check() == 0
    assert await escalations(repository, complaint_id) == [(1, WATCHER)]


async def test_deadlines_due_together_are_looked_at_together_each_escalated_once(
    store: JetStreamEventStore,
) -> None:
    """A restart after a quiet spell finds hundreds due at once; one at a time, 469 took 7.5 s (found by a review
    of restarts after a surge). Looks now overlap, LOOKS_AT_ONCE at most, and each case is escalated once."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    ids = [await new_complaint(repository, clock) for _ in range(40)]
    worker, watcher = build(store, clock=clock)
    await drain(worker)
    assert await watcher.tick() == 0
    assert REGISTRY.get_sample_value("levee_deadline_watcher_behind_messages") == 0  # folded to the end
    at_once = most = 0
    escalate = watcher._escalate

    async def counted(complaint_id: UUID, now: datetime) -> int:
        nonlocal at_once, most
        at_once += 1
        most = max(most, at_once)
        try:
            return await escalate(complaint_id, now)
        finally:
            at_once -= 1

    watcher._escalate = counted  # type: ignore[method-assign]
    clock.move_to(timedelta(minutes=61))
    assert await watcher.tick() == 40
    assert await watcher.tick() == 0
    assert 1 < most <= deadlines_module.LOOKS_AT_ONCE
    for complaint_id in ids:
        assert await escalations(repository, complaint_id) == [(1, WATCHER)]


async def test_the_watchers_first_fold_shows_how_far_it_has_to_go_even_when_an_outage_cuts_it(
    store: JetStreamEventStore,
) -> None:
    """After a restart the watcher folds the whole stream before its first look (8-16 s at 300,000 messages, found
    by a review of restarts): the gauge says how much is left, through an outage in the middle too, and the log
    says when it is done."""
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    for _ in range(6):
        await new_complaint(repository, clock)
    watcher = DeadlineWatcher(store, repository, clock=clock, page=2)
    seen: list[float] = []
    read = store.read
    reads = 0

    async def read_then_fail_once(**kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        if reads == 3:
            raise StoreUnavailable("NATS went away mid-fold")
        seen.append(REGISTRY.get_sample_value("levee_deadline_watcher_behind_messages") or 0)
        return await read(**kwargs)

    watcher.store = store.__class__(store.nc, store.spec)
    watcher.store.read = read_then_fail_once  # type: ignore[method-assign]
    with capture_logs() as logs:
        with pytest.raises(StoreUnavailable):
            await watcher.tick()
        behind = REGISTRY.get_sample_value("levee_deadline_watcher_behind_messages") or 0
        assert behind > 0, "cut off mid-fold, it still has messages to read"
        await watcher.tick()
        await watcher.tick()
    assert REGISTRY.get_sample_value("levee_deadline_watcher_behind_messages") == 0
    assert any(s > 0 for s in seen[3:]), "after the outage the fold still counts down, not 0"
    done = [line for line in logs if line["event"] == "deadline_watcher_caught_up"]
    assert len(done) == 1 and done[0]["position"] == watcher.position


async def test_dispatch_service_runs_and_stops(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, clock, category="power_outage")
    worker, watcher = build(store, clock=clock)
    stop = asyncio.Event()
    started = time.time()
    running = asyncio.gather(worker.run(stop), watcher.run(stop, interval=0.05))
    async with asyncio.timeout(10):
        while not await dispatched_to(repository, complaint_id):
            await asyncio.sleep(0.02)
        clock.move_to(timedelta(minutes=61))
        while not await escalations(repository, complaint_id):
            await asyncio.sleep(0.02)
        stop.set()
        await running
    assert await dispatched_to(repository, complaint_id) == ["power"]
    assert await escalations(repository, complaint_id) == [(1, WATCHER)]
    # Its last look is a gauge: an alert sees a watcher that stopped looking (deploy/prometheus).
    tick = REGISTRY.get_sample_value("levee_deadline_watcher_last_tick_timestamp_seconds")
    assert tick is not None and tick >= started


async def test_levee_serve_dispatch_routes_and_stops_on_request(
    store: JetStreamEventStore, nats_url: str, tmp_path: Path
) -> None:
    (tmp_path / "routing.toml").write_text('[categories]\npower_outage = ["telecom"]\n')  # a deployment's own
    settings = Settings(
        nats_url=nats_url, nats_stream=store.spec.name, data_dir=tmp_path, service_name="dispatch"
    )
    assert await _power_outage_served_by(store, settings) == ["telecom"]


async def _power_outage_served_by(store: JetStreamEventStore, settings: Settings) -> list[str]:
    """Run `levee serve dispatch` until a new power outage is dispatched; where it went."""
    repository = AggregateStore(store, make_mapper())
    complaint_id = await new_complaint(repository, FakeClock(), category="power_outage")
    stop = asyncio.Event()
    service = asyncio.create_task(run(settings, stop))
    async with asyncio.timeout(10):
        while not await dispatched_to(repository, complaint_id):
            await asyncio.sleep(0.02)
        stop.set()
        await service
    return await dispatched_to(repository, complaint_id)


async def test_levee_routing_names_the_table_wherever_it_is_mounted(
    store: JetStreamEventStore, nats_url: str, tmp_path: Path
) -> None:
    """In Kubernetes the data directory is not kept: the table is a mounted file named by LEVEE_ROUTING, and it
    wins over a routing.toml left in the data directory."""
    mounted = tmp_path / "config" / "routing.toml"
    mounted.parent.mkdir()
    mounted.write_text('[categories]\npower_outage = ["water"]\n')
    (tmp_path / "routing.toml").write_text('[categories]\npower_outage = ["telecom"]\n')
    settings = Settings(nats_url=nats_url, nats_stream=store.spec.name, data_dir=tmp_path,
                        service_name="dispatch", routing_file=mounted)  # fmt: skip
    assert await _power_outage_served_by(store, settings) == ["water"]
