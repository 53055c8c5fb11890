"""The triage worker against a real nats-server: what a complaint in the stream turns into."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

import events.reference as reference_package
from events.complaint import Complaint, ComplaintReinstated
from events.complaint_rules import Status
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.dispatch import app as dispatch_app
from services.runtime.worker import Worker, utc_now
from services.triage import app as triage_app
from services.triage.app import build_worker, default_deps
from tests.unit.triage.test_triage_rules import with_trapped_term

DEPS = default_deps()


def receive(description: str, *, contact: str | None = None, lat: float = 22.45, lon: float = 113.80,
            category: str | None = None, by: str = "operator:Chen") -> Complaint:  # fmt: skip
    """A report as the API stores it: taken down by an operator on the call, or (by="public") typed into the
    public form or sent by an Open311 client."""
    return Complaint.receive(
        channel="hotline" if by != "public" else "web", description=description, received_by=by,
        category=category, lat=lat, lon=lon, contact_hash=contact,
    )  # fmt: skip


async def put(store: JetStreamEventStore, *complaints: Complaint) -> list[UUID]:
    await AggregateStore(store, make_mapper()).save(*complaints)
    return [c.id for c in complaints]


async def drain(worker: Worker) -> None:
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass


async def topics(store: JetStreamEventStore, complaint_id: UUID) -> list[str]:
    messages = await store.read_subject(store.spec.event_subject(complaint_id))
    return [m.headers["Levee-Topic"].rsplit(":", 1)[1] for m in messages]


async def get(store: JetStreamEventStore, complaint_id: UUID) -> Complaint:
    return await AggregateStore(store, make_mapper()).get(complaint_id, Complaint)


async def test_a_received_complaint_is_validated_and_assessed_once(store: JetStreamEventStore) -> None:
    [cid] = await put(store, receive("救命！我们被困在二楼，家里进水了，水已经到膝盖"))
    await drain(build_worker(store, DEPS))
    assert await topics(store, cid) == ["ComplaintReceived", "ComplaintValidated", "PriorityAssessed"]
    complaint = await get(store, cid)
    assert complaint.priority_level == "P1"
    assert complaint.accept_by is not None and complaint.resolve_by is not None
    assert {f["name"] for f in complaint.priority_factors} >= {"danger_to_life", "category"}


async def test_a_case_staff_moved_on_before_triage_assessed_it_gets_a_level_and_so_a_deadline(
    store: JetStreamEventStore,
) -> None:
    """Command dispatches a case by hand while triage is behind, the department may even sign for it first; a
    first-contact answer is reopened. Without a level none would have a deadline: nothing would escalate it,
    however long it waited (found by a review). Triage assesses each, once; it judges no validity again."""
    trapped = receive("救命！我们被困在二楼，家里进水了，水已经到膝盖")
    trapped.dispatch("drainage", by="command desk", reason="trapped: sent at once", by_hand=True)
    signed = receive("Burst water main on Harbour Road, the street is flooding", category="flooding")
    signed.dispatch("drainage", by="command desk", reason="sent at once", by_hand=True)
    signed.accept("drainage")
    settled = receive("No water on Hill Road since noon.", category="water_outage")
    settled.resolve("hotline_office", "Gave the published restoration time", "first_contact", "answer:water")
    settled.record_follow_up(True, "not_satisfied", "still no water at night")
    settled.reopen("still no water at night")
    ids = await put(store, trapped, signed, settled)
    for _ in range(2):  # a second run (a restart) assesses nothing again
        await drain(build_worker(store, DEPS))
    for cid in ids:
        names = await topics(store, cid)
        assert names.count("PriorityAssessed") == 1, names
        assert "ComplaintValidated" not in names and "ComplaintRejected" not in names
    assert (await get(store, ids[0])).priority_level == "P1"
    assert (await get(store, ids[0])).status == Status.DISPATCHED  # where staff put it
    assert (await get(store, ids[1])).status == Status.ACCEPTED
    assert (await get(store, ids[2])).priority_level is not None


async def test_the_board_is_told_where_a_category_came_from(store: JetStreamEventStore) -> None:
    read, given = await put(
        store,
        receive("A large tree fell across Elm Street and blocks one lane."),
        receive("A large tree fell across Elm Street and blocks one lane.", category="fallen_tree"),
    )
    await drain(build_worker(store, DEPS))
    [read_factor] = [f for f in (await get(store, read)).priority_factors if f["name"] == "category"]
    [given_factor] = [f for f in (await get(store, given)).priority_factors if f["name"] == "category"]
    assert read_factor["value"] == given_factor["value"] == "fallen_tree"
    assert "tree" in " ".join(read_factor["evidence"]).lower()  # the words triage read it from
    assert given_factor["evidence"] == ["given at intake"]


async def test_a_complaint_without_facts_or_outside_the_area_is_rejected_with_a_reason(
    store: JetStreamEventStore,
) -> None:
    vague, outside = await put(
        store, receive("喂喂喂"), receive("Power outage at my house", lat=23.3, lon=113.2)
    )
    await drain(build_worker(store, DEPS))
    assert await topics(store, vague) == ["ComplaintReceived", "ComplaintRejected"]
    assert await topics(store, outside) == ["ComplaintReceived", "ComplaintRejected"]
    assert "no clear" in ((await get(store, vague)).rejection_reason or "")
    assert "outside the served area" in ((await get(store, outside)).rejection_reason or "")


async def test_the_same_reporter_again_is_a_duplicate_of_the_first_and_a_repeated_call(
    store: JetStreamEventStore,
) -> None:
    [first] = await put(store, receive("停电了，整栋楼都没电", contact="c" * 64))
    worker = build_worker(store, DEPS)
    await drain(worker)
    [again] = await put(store, receive("还是停电，整栋楼没电", contact="c" * 64, lat=22.4501))
    await drain(worker)
    duplicate, original = await get(store, again), await get(store, first)
    assert duplicate.status == Status.DUPLICATE and duplicate.duplicate_of == first
    assert original.repeat_calls == 1
    assert Counter(await topics(store, again))["PriorityAssessed"] == 0


async def test_the_same_reporter_again_after_resolution_reopens_the_case_and_twice_sends_it_to_command(
    store: JetStreamEventStore,
) -> None:
    repo = AggregateStore(store, make_mapper())
    worker = build_worker(store, DEPS)
    [first] = await put(store, receive("停电了，整栋楼都没电", contact="r" * 64, category="power_outage"))
    await drain(worker)
    reopened_by_triage = []
    for attempt in (1, 2):
        case = await get(store, first)
        if attempt == 1:
            case.dispatch("power", by="dispatch", reason="category route")
            case.accept("power")
        case.resolve("power", "Feeder switched back")
        await repo.save(case)
        [again] = await put(store, receive("又停电了，还是没电", contact="r" * 64, category="power_outage"))
        await drain(worker)
        case, report = await get(store, first), await get(store, again)
        assert report.status == Status.DUPLICATE and report.duplicate_of == first
        assert case.status == Status.REOPENED and case.reopen_count == attempt
        reopened_by_triage.append(case.escalation_level)
    assert reopened_by_triage[-1] == 2  # the second reopening goes to command
    assert case.repeat_calls == 2


async def two_cases(store: JetStreamEventStore, worker: Worker, *, power: str, water: str) -> list[UUID]:
    """A power cut and a burst main, each from its own caller, triaged."""
    ids = await put(
        store,
        receive("停电了，整栋楼都没电", contact=power, category="power_outage"),
        receive("Water main burst, no tap water in our building", contact=water, category="water_outage"),
    )
    await drain(worker)
    return ids


async def settle(store: JetStreamEventStore, case_id: UUID, department: str, *, close: bool = False) -> None:
    """Dispatched to `department`, signed for and resolved; with `close`, followed up and closed too."""
    case = await get(store, case_id)
    case.dispatch(department, by="dispatch", reason="category route")
    case.accept(department)
    case.resolve(department, "Fixed")
    if close:
        case.record_follow_up(True, "satisfied", "ok")
        case.close()
    await AggregateStore(store, make_mapper()).save(case)


async def test_a_number_typed_into_the_public_form_never_reopens_the_resolved_case_it_belongs_to(
    store: JetStreamEventStore,
) -> None:
    """Anyone who knows a caller's number can type it into the web form: found by a security review, a
    "repeat" reopened the caller's resolved case (the second sent it to command) and the impostor's own status
    said "merged". A public repeat of a resolved case is a complaint of its own; a repeat of that one while it
    is open is its duplicate (a loop of the same form makes one case, not one each); a repeat of a case still
    being handled is a duplicate as before."""
    worker = build_worker(store, DEPS)
    settled, pending = await two_cases(store, worker, power="v" * 64, water="w" * 64)
    await settle(store, settled, "power")
    [impostor, again, water_again] = await put(
        store,
        receive("又停电了，还是没电", contact="v" * 64, category="power_outage", by="public"),
        receive("还是没电，快来人", contact="v" * 64, category="power_outage", by="public"),
        receive("Still no water at all", contact="w" * 64, category="water_outage", by="public"),
    )
    await drain(worker)
    case = await get(store, settled)
    assert case.status == Status.RESOLVED and case.reopen_count == 0 and case.escalation_level == 0
    assert case.repeat_calls == 0
    own = await get(store, impostor)
    assert own.status == Status.PRIORITISED and own.duplicate_of is None
    looped = await get(store, again)
    assert looped.status == Status.DUPLICATE and looped.duplicate_of == impostor
    assert (await get(store, impostor)).repeat_calls == 1
    water = await get(store, water_again)
    assert water.status == Status.DUPLICATE and water.duplicate_of == pending
    assert (await get(store, pending)).repeat_calls == 1


async def test_a_repeat_joins_the_reporters_case_still_being_handled_before_reopening_or_starting_one(
    store: JetStreamEventStore,
) -> None:
    """Found by a review of the change above: the hotline's repeat looked only at the reporter's first report.
    After a public repeat of a resolved case had become a case of its own, a call reopened the resolved one
    (two open cases for one problem); after the first case was closed, every call made a new case."""
    worker = build_worker(store, DEPS)
    resolved, closed = await two_cases(store, worker, power="s" * 64, water="k" * 64)
    await settle(store, resolved, "power")
    await settle(store, closed, "water", close=True)
    [public] = await put(store, receive("又停电了", contact="s" * 64, category="power_outage", by="public"))
    await drain(worker)
    [call, after_close, again_after_close] = await put(
        store,
        receive("还是没电，快来人", contact="s" * 64, category="power_outage"),
        receive("No water again", contact="k" * 64, category="water_outage"),
        receive("Still no water", contact="k" * 64, category="water_outage"),
    )
    await drain(worker)
    assert (await get(store, call)).duplicate_of == public  # the case still being handled
    assert (await get(store, resolved)).status == Status.RESOLVED  # not reopened beside it
    assert (await get(store, after_close)).status == Status.PRIORITISED  # a case of its own
    assert (await get(store, again_after_close)).duplicate_of == after_close  # then its duplicate


async def test_the_same_reporter_about_a_second_fallen_tree_nearby_is_not_a_duplicate(
    store: JetStreamEventStore,
) -> None:
    """The repeat rule is never wider than the category's event: 800 m is one power cut but two trees."""
    worker = build_worker(store, DEPS)
    [tree] = await put(
        store, receive("A tree fell across the road", contact="t" * 64, category="fallen_tree")
    )
    [power] = await put(store, receive("停电了，整栋楼都没电", contact="p" * 64, category="power_outage"))
    await drain(worker)
    east = 113.80 + 0.8 / 102.9  # about 800 m east at this latitude
    [tree_again, power_again] = await put(
        store,
        receive("Another tree down, blocking the lane", contact="t" * 64, category="fallen_tree", lon=east),
        receive("还是停电，整栋楼没电", contact="p" * 64, category="power_outage", lon=east),
    )
    await drain(worker)
    assert (await get(store, tree_again)).status == Status.PRIORITISED
    assert (await get(store, power_again)).duplicate_of == power
    assert (await get(store, tree)).repeat_calls == 0


async def test_two_people_reporting_one_event_end_in_one_incident(store: JetStreamEventStore) -> None:
    a, b = await put(
        store,
        receive("Power cut in our flat since 3pm", contact="a" * 64),
        receive("No electricity in our building", contact="b" * 64, lat=22.452, lon=113.801),
    )
    [c] = await put(
        store, receive("No power on our street either", contact="d" * 64, lat=22.451, lon=113.802)
    )
    await drain(build_worker(store, DEPS))
    linked = [await get(store, cid) for cid in (a, b, c)]
    incident_ids = {complaint.incident_id for complaint in linked}
    assert len(incident_ids) == 1 and None not in incident_ids
    [incident_id] = incident_ids
    assert incident_id is not None
    incident = await AggregateStore(store, make_mapper()).get(incident_id, Incident)
    assert sorted(incident.complaint_ids) == sorted([a, b, c])
    assert all(complaint.status == Status.PRIORITISED for complaint in linked)
    # The third report made the group bigger: the cluster factor counts it for the newest complaint.
    assert any(f["name"] == "cluster" and f["value"] == 3 for f in linked[2].priority_factors)


@pytest.mark.parametrize(
    ("category", "text", "one_incident"),
    [
        ("fallen_tree", "A big tree fell across the road", False),  # two trees: each its own event
        ("gas_leak", "Strong smell of gas in the street", False),
        ("power_outage", "No electricity in our building", True),  # one outage over an area
    ],
)
async def test_two_reports_29_km_apart_are_one_incident_only_for_an_area_wide_category(
    category: str, text: str, one_incident: bool, store: JetStreamEventStore
) -> None:
    ids = await put(
        store,
        receive(text, contact="a" * 64, category=category),
        receive(text, contact="b" * 64, category=category, lat=22.45 + 2.9 / 111.195),  # 2.9 km north
    )
    await drain(build_worker(store, DEPS))
    incidents = {(await get(store, cid)).incident_id for cid in ids}
    if one_incident:
        assert len(incidents) == 1 and None not in incidents
    else:
        assert incidents == {None}


async def test_running_the_worker_twice_or_twice_at_once_never_assesses_twice(
    store: JetStreamEventStore,
) -> None:
    ids = await put(store, *(receive(f"停水了，第{n}栋楼没有水", contact=f"{n:064d}") for n in range(30)))
    rivals = [build_worker(store, DEPS, batch_size=7) for _ in range(2)]
    await asyncio.gather(*(drain(w) for w in rivals))
    for worker in rivals:
        await drain(worker)
    await drain(build_worker(store, DEPS))
    for cid in ids:
        counts = Counter(await topics(store, cid))
        assert counts["ComplaintValidated"] == 1
        assert (
            1 <= counts["PriorityAssessed"] <= 2
        )  # a second one only when the growing group raised the level
    assert len({(await get(store, cid)).incident_id for cid in ids}) == 1


async def test_the_service_runs_until_stopped_and_triages_what_arrives(
    store: JetStreamEventStore, nats_url: str
) -> None:
    from services.settings import Settings
    from services.triage.app import run

    stop = asyncio.Event()
    service = asyncio.create_task(run(Settings(nats_url=nats_url, nats_stream=store.spec.name), stop))
    [cid] = await put(store, receive("Tree fell across the road, traffic backed up"))
    async with asyncio.timeout(15):
        while "PriorityAssessed" not in await topics(store, cid):
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(service, 10)
    assert (await get(store, cid)).priority_level == "P2"


async def test_the_service_uses_the_rules_and_reference_files_a_deployment_gives_it(
    store: JetStreamEventStore, nats_url: str, tmp_path: Path
) -> None:
    from services.settings import Settings
    from services.triage.app import run

    # A deployment's copies: one more danger term, and a shorter P1 resolve deadline (240 -> 180 minutes).
    packaged_rules = (Path(triage_app.__file__).parent / "rules.toml").read_text(encoding="utf-8")
    rules = tmp_path / "rules.toml"
    rules.write_text(with_trapped_term(packaged_rules, "crane toppled"), "utf-8")
    packaged_reference = (Path(reference_package.__file__).parent / "levee.toml").read_text(encoding="utf-8")
    reference = tmp_path / "levee.toml"
    p1 = "[deadlines.P1]\naccept_within_minutes = 15\nresolve_within_minutes = 240"
    assert packaged_reference.count(p1) == 1
    reference.write_text(packaged_reference.replace(p1, p1.replace("240", "180")), "utf-8")
    settings = Settings(
        nats_url=nats_url, nats_stream=store.spec.name, triage_rules=rules, reference_file=reference
    )

    stop = asyncio.Event()
    service = asyncio.create_task(run(settings, stop))
    [cid] = await put(store, receive("A crane toppled over onto the road next to the school"))
    async with asyncio.timeout(15):
        while "PriorityAssessed" not in await topics(store, cid):
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(service, 10)
    complaint = await get(store, cid)
    assert complaint.priority_level == "P1"  # only the replaced rules know this danger
    assert complaint.accept_by is not None and complaint.resolve_by is not None
    assert complaint.resolve_by - complaint.accept_by == timedelta(minutes=180 - 15)


async def test_a_rejection_command_overrules_is_assessed_with_its_event_and_routed_once(
    store: JetStreamEventStore,
) -> None:
    """Triage read a neighbour's short call as no clear facts; command staff reviewing the board's rejections
    reinstate it with a category. Triage puts it with the other reports of the event and assesses it, once,
    counting the time it waited; dispatch routes it by command's category. One command sent on by hand at
    once is assessed all the same, and left where command sent it."""
    first, second = await put(
        store,
        receive("Power cut in our flat since 3pm", contact="a" * 64),
        receive("No electricity in our building", contact="b" * 64, lat=22.452, lon=113.801),
    )
    short, sent = await put(
        store, receive("喂喂喂", contact="c" * 64, lat=22.451), receive("喂……", lat=22.47)
    )
    triage = build_worker(store, DEPS)
    await drain(triage)
    assert {(await get(store, cid)).status for cid in (short, sent)} == {Status.REJECTED}
    repository = AggregateStore(store, make_mapper())
    for cid in (short, sent):
        complaint = await repository.get(cid, Complaint)
        complaint.reinstate("neighbours report the outage: a real call", by="cmd-wu", category="power_outage")
        if cid == sent:  # and sent on by hand at once, before triage comes to it
            complaint.dispatch("power", by="cmd-wu", reason="crew nearby", by_hand=True)
        await repository.save(complaint)
    await drain(triage)
    await drain(build_worker(store, DEPS))  # a second run, or a restart: nothing more
    assert (await topics(store, short))[-4:] == [
        "ComplaintRejected", "ComplaintReinstated", "ComplaintLinkedToIncident", "PriorityAssessed",
    ]  # fmt: skip
    reinstated = await get(store, short)
    incident = (await get(store, first)).incident_id
    assert (
        incident is not None and reinstated.incident_id == incident == (await get(store, second)).incident_id
    )
    assert (reinstated.status, reinstated.category) == (Status.PRIORITISED, "power_outage")
    assert reinstated.accept_by is not None and reinstated.priority_level is not None
    [category] = [f for f in reinstated.priority_factors if f["name"] == "category"]
    assert category["evidence"] == ["set by command staff when they overruled the rejection"]
    late = await get(store, sent)  # assessed all the same (a level, so deadlines), left where command sent it
    assert (late.status, late.department) == (Status.DISPATCHED, "power")
    assert late.priority_level is not None and (await topics(store, sent)).count("PriorityAssessed") == 1

    dispatch, _ = dispatch_app.build(store)
    await drain(dispatch)
    routed = await get(store, short)
    assert (routed.status, routed.department) == (Status.DISPATCHED, "power")


async def test_a_reinstated_report_counts_the_time_it_waited(store: JetStreamEventStore) -> None:
    """Reinstated hours after it came in, a report is assessed with the time it waited, as any case waiting for
    a department is re-scored: not as if it had just arrived (a review found a real flood report reinstated
    after hours given P4 and a day to be accepted)."""
    [short] = await put(store, receive("喂 喂 水", contact="e" * 64))
    await drain(build_worker(store, DEPS))
    repository = AggregateStore(store, make_mapper())
    complaint = await repository.get(short, Complaint)
    assert complaint.status == Status.REJECTED
    complaint.reinstate("water inside a flat", by="cmd-wu", category="flooding")
    await repository.save(complaint)
    later = utc_now() + timedelta(hours=5)
    await drain(build_worker(store, DEPS, clock=lambda: later))
    [waited] = [f for f in (await get(store, short)).priority_factors if f["name"] == "waited"]
    assert waited["value"] >= 100 and waited["weight"] > 0, waited


async def test_a_reinstated_report_and_the_reporters_other_reports_are_one_case(
    store: JetStreamEventStore,
) -> None:
    """The same caller about the same event is one case, whichever came first (found by a review): a clear
    report after the reinstatement is a repeated call on it; a short call reinstated after the caller's clear
    report was taken joins that one as a repeated call, and a case resolved since is not reopened by it."""
    [short] = await put(store, receive("喂喂喂", contact="f" * 64))
    [early, clear_later] = await put(
        store,
        receive("喂？喂？", contact="g" * 64),
        receive("No power in my flat since 3pm", contact="g" * 64),
    )
    [before, settled] = await put(
        store, receive("喂？", contact="h" * 64), receive("No power in my flat since noon", contact="h" * 64)
    )
    triage = build_worker(store, DEPS)
    await drain(triage)
    repository = AggregateStore(store, make_mapper())
    case = await repository.get(settled, Complaint)
    case.dispatch("power", by="cmd-wu", reason="r", by_hand=True)
    case.accept("power")
    case.resolve("power", "supply restored")
    await repository.save(case)
    for cid in (short, early, before):
        complaint = await repository.get(cid, Complaint)
        complaint.reinstate("a real call", by="cmd-wu", category="power_outage")
        await repository.save(complaint)
    await drain(triage)
    [again] = await put(store, receive("Still no electricity in my flat", contact="f" * 64))
    await drain(triage)

    first = await get(store, short)
    assert first.status == Status.PRIORITISED and first.repeat_calls == 1
    assert (await get(store, again)).duplicate_of == short
    joined = await get(store, early)
    assert (joined.status, joined.duplicate_of) == (Status.DUPLICATE, clear_later)
    assert (await get(store, clear_later)).repeat_calls == 1
    # Made before that case was resolved, it does not reopen it: a case of its own.
    assert (await get(store, before)).status == Status.PRIORITISED
    assert (await get(store, settled)).status == Status.RESOLVED


async def test_a_report_reinstated_hours_later_is_placed_with_the_reports_of_then_not_of_its_receipt(
    store: JetStreamEventStore,
) -> None:
    """Placed by when it came in, a report reinstated hours later joined its old group, and with it an incident
    command had since resolved (found by a review): it is placed as a report of the time it was taken up."""
    first, _ = await put(
        store,
        receive("Power cut in our flat since 3pm", contact="a" * 64),
        receive("No electricity in our building", contact="b" * 64, lat=22.452, lon=113.801),
    )
    [short] = await put(store, receive("喂喂喂", contact="c" * 64, lat=22.451))
    triage = build_worker(store, DEPS)
    await drain(triage)
    repository = AggregateStore(store, make_mapper())
    old = (await get(store, first)).incident_id
    assert old is not None and (await get(store, short)).status == Status.REJECTED
    complaint = await repository.get(short, Complaint)
    later = utc_now() + timedelta(hours=5)  # as if taken up five hours on: the event's own time says when
    complaint.trigger_event(
        ComplaintReinstated, timestamp=later, reason="a real call", by="cmd-wu", category="power_outage",
        district=None,
    )  # fmt: skip
    await repository.save(complaint)
    await drain(triage)
    reinstated = await get(store, short)
    assert reinstated.priority_level is not None
    assert reinstated.incident_id != old


async def test_a_report_reinstated_and_sent_on_at_once_is_assessed_as_one_taken_up_then(
    store: JetStreamEventStore,
) -> None:
    """Reinstated and dispatched by hand before triage comes to it (the board's case panel makes it two clicks):
    it is still placed with the reports of its time, assessed with the time it waited, and in the reporter's
    index, so the caller's clear report later is a repeated call on it (found by a review)."""
    first, _ = await put(
        store,
        receive("Power cut in our flat since 3pm", contact="a" * 64),
        receive("No electricity in our building", contact="b" * 64, lat=22.452, lon=113.801),
    )
    [short] = await put(store, receive("喂喂喂", contact="c" * 64, lat=22.451))
    triage = build_worker(store, DEPS)
    await drain(triage)
    old = (await get(store, first)).incident_id
    repository = AggregateStore(store, make_mapper())
    complaint = await repository.get(short, Complaint)
    later = utc_now() + timedelta(hours=5)
    complaint.trigger_event(
        ComplaintReinstated, timestamp=later, reason="a real call", by="cmd-wu", category="power_outage",
        district=None,
    )  # fmt: skip
    complaint.dispatch("power", by="cmd-wu", reason="crew nearby", by_hand=True)
    await repository.save(complaint)
    await drain(build_worker(store, DEPS, clock=lambda: later))
    [again] = await put(store, receive("Still no electricity in my flat", contact="c" * 64, lat=22.451))
    await drain(build_worker(store, DEPS, clock=lambda: later))

    sent = await get(store, short)
    assert (sent.status, sent.department) == (Status.DISPATCHED, "power")
    assert sent.incident_id != old
    assert any(f["name"] == "waited" for f in sent.priority_factors)
    assert (await get(store, again)).duplicate_of == short and sent.repeat_calls == 1
