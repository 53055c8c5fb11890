"""Triage and merged incidents, against a real nats-server: complaints follow a merge exactly once, reports
after a merge go to the survivor, and a report bridging two groups of one event joins them."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from uuid import UUID

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateNotFound, AggregateStore
from services.drill.direct import received
from services.drill.scenario import load_scenario, submissions
from services.triage.app import build_worker
from services.triage.indexes import Cluster, near
from tests.integration.triage.test_triage_worker import DEPS, drain, get, put, topics

KM_EAST = 1 / 102.8  # degrees of longitude per km at 22.45° N
OLD_TOWN = (22.45, 114.10)
TEXT = "The road to the clinic is cut off, my father cannot reach his dialysis"


def report(contact: str, km_east: float = 0.0) -> Complaint:
    return Complaint.receive(
        channel="hotline", description=TEXT, received_by="operator-chen", category="medical_access",
        lat=OLD_TOWN[0], lon=OLD_TOWN[1] + km_east * KM_EAST, contact_hash=contact * 64,
    )  # fmt: skip


async def incident_of(store: JetStreamEventStore, complaint_id: UUID) -> UUID:
    found = (await get(store, complaint_id)).incident_id
    assert found is not None
    return found


async def load_incident(store: JetStreamEventStore, incident_id: UUID) -> Incident:
    return await AggregateStore(store, make_mapper()).get(incident_id, Incident)


async def two_incidents(store: JetStreamEventStore) -> tuple[list[UUID], list[UUID]]:
    """Two groups 1.6 km apart (medical access reaches 1 km), each an incident of two reporters; the west one
    is declared first."""
    worker = build_worker(store, DEPS)
    west = await put(store, report("a"), report("b", 0.1))
    await drain(worker)
    east = await put(store, report("c", 1.6), report("d", 1.7))
    await drain(worker)
    assert await incident_of(store, west[0]) != await incident_of(store, east[0])
    return west, east


async def test_a_merge_moves_each_open_complaint_once_however_often_triage_runs(
    store: JetStreamEventStore,
) -> None:
    west, east = await two_incidents(store)
    survivor_id, merged_id = await incident_of(store, west[0]), await incident_of(store, east[0])
    repo = AggregateStore(store, make_mapper())
    closed = await get(store, east[1])
    closed.resolve("health", "Told the way round by the ring road", "first_contact", answer_ref="notice-3")
    closed.close()  # an ended case stays where it ended
    merged, survivor = await repo.get(merged_id, Incident), await repo.get(survivor_id, Incident)
    await repo.save(closed)
    merged.merge_into(survivor, by="cmd-wu", reason="one road closure")
    await repo.save(merged, survivor)

    rivals = [build_worker(store, DEPS, batch_size=3) for _ in range(2)]
    await asyncio.gather(*(drain(w) for w in rivals))
    await drain(build_worker(store, DEPS))  # and once more from the start: a redo changes nothing
    assert await incident_of(store, east[0]) == survivor_id
    assert await incident_of(store, east[1]) == merged_id
    assert Counter(await topics(store, east[0]))["ComplaintMovedToIncident"] == 1
    assert Counter(await topics(store, east[1]))["ComplaintMovedToIncident"] == 0
    survivor = await load_incident(store, survivor_id)
    assert sorted(survivor.complaint_ids) == sorted([*west, *east])


async def test_reports_after_a_merge_go_to_the_surviving_incident(store: JetStreamEventStore) -> None:
    west, east = await two_incidents(store)
    survivor_id, merged_id = await incident_of(store, west[0]), await incident_of(store, east[0])
    repo = AggregateStore(store, make_mapper())
    merged, survivor = await repo.get(merged_id, Incident), await repo.get(survivor_id, Incident)
    merged.merge_into(survivor, by="cmd-wu", reason="one road closure")
    await repo.save(merged, survivor)

    worker = build_worker(store, DEPS)
    [late] = await put(store, report("e", 1.65))  # in the east group's reach only
    await drain(worker)
    assert await incident_of(store, late) == survivor_id
    assert (await load_incident(store, merged_id)).complaint_ids == east  # nothing more after the merge
    cluster_id = Cluster.cluster_id("old_town", "medical_access", _bucket(await get(store, late)))
    cluster = await repo.get(cluster_id, Cluster)
    assert {g["incident_id"] for g in cluster.groups} == {str(survivor_id)}  # the group follows the merge


async def test_a_report_bridging_two_groups_joins_them_and_merges_their_incidents(
    store: JetStreamEventStore,
) -> None:
    west, east = await two_incidents(store)
    older, younger = await incident_of(store, west[0]), await incident_of(store, east[0])
    worker = build_worker(store, DEPS)
    [bridge] = await put(store, report("f", 0.85))  # within 1 km of both groups
    await drain(worker)
    assert await incident_of(store, bridge) == older
    assert {await incident_of(store, c) for c in [*west, *east]} == {older}
    merged = await load_incident(store, younger)
    assert merged.merged_into == older and merged.declared_by == "triage"
    survivor = await load_incident(store, older)
    assert sorted(survivor.complaint_ids) == sorted([*west, *east, bridge])

    cluster_id = Cluster.cluster_id("old_town", "medical_access", _bucket(await get(store, bridge)))
    cluster = await AggregateStore(store, make_mapper()).get(cluster_id, Cluster)
    sizes = sorted(cluster.size(g) for g in range(len(cluster.groups)))
    assert sizes == [0, 5]  # one group of five; the joined one kept its place, empty

    [after] = await put(store, report("g", 1.7))  # where the east group was: the joined group now
    await drain(build_worker(store, DEPS))  # a fresh worker (nothing cached) decides the same
    assert await incident_of(store, after) == older
    for complaint_id in [*west, *east, bridge, after]:
        assert Counter(await topics(store, complaint_id))["ComplaintMovedToIncident"] <= 1


async def test_a_report_without_a_location_joins_a_group_but_merges_no_incidents(
    store: JetStreamEventStore,
) -> None:
    """Without coordinates a report is near every group of its district by that alone: it proves nothing."""
    west, east = await two_incidents(store)
    older, younger = await incident_of(store, west[0]), await incident_of(store, east[0])
    unplaced = Complaint.receive(
        channel="hotline", description=TEXT, received_by="operator-chen", category="medical_access",
        district="old_town", contact_hash="u" * 64,
    )  # fmt: skip
    [caller] = await put(store, unplaced)
    await drain(build_worker(store, DEPS))
    assert await incident_of(store, caller) == older  # the first group within reach
    assert (await load_incident(store, younger)).merged_into is None
    assert {await incident_of(store, c) for c in east} == {younger}


async def test_a_bridge_between_groups_without_incidents_makes_one_incident(
    store: JetStreamEventStore,
) -> None:
    worker = build_worker(store, DEPS)
    lone = await put(store, report("a"))
    await drain(worker)
    other = await put(store, report("a", 1.6))  # the same person twice, far apart: no incident anywhere
    await drain(worker)
    assert (await get(store, lone[0])).incident_id is None and (
        await get(store, other[0])
    ).incident_id is None
    [bridge] = await put(store, report("b", 0.8))
    await drain(worker)
    incident_id = await incident_of(store, bridge)
    assert {await incident_of(store, c) for c in [*lone, *other]} == {incident_id}


def _bucket(complaint: Complaint) -> int:
    return int(complaint.created_on.timestamp() // (DEPS.rules.clustering.bucket_minutes * 60))


async def test_a_typhoon_drill_leaves_no_two_groups_of_one_cluster_within_reach(
    store: JetStreamEventStore,
) -> None:
    """The drill that showed the problem: its first reports, scattered around each event, start several groups.
    After the drill no two groups of a cluster are within the category's reach of each other (a report that
    bridged them joined them, merging their incidents), every group's incident is active, and every report
    with an incident is in its group's."""
    plan = list(submissions(load_scenario("typhoon"), seed=2, rate=60.0, duration=5.0))
    reports = [
        received(s.body, received_by="drill", contact_secret=b"test-secret")
        for s in plan
        if s.incident != "background"
    ]
    for start in range(0, len(reports), 100):
        await put(store, *reports[start : start + 100])
    await drain(build_worker(store, DEPS, batch_size=50))
    repo = AggregateStore(store, make_mapper())
    placed = [c for c in [await get(store, r.id) for r in reports] if c.category and c.district]
    cluster_ids = {Cluster.cluster_id(c.district or "", c.category or "", _bucket(c)) for c in placed}
    joined = 0
    for cluster_id in cluster_ids:
        try:
            cluster = await repo.get(cluster_id, Cluster)
        except AggregateNotFound:
            continue  # a category triage does not cluster
        joined += sum(1 for g in cluster.groups if "joined_into" in g)
        reach = DEPS.rules.clustering.reach(cluster.key.split(":")[1]).nearby_km
        groups = [g for g in cluster.groups if g["members"]]
        for a, b in itertools.combinations(groups, 2):
            assert not any(near(x, y, reach) for x in a["members"] for y in b["members"]), cluster.key
        for group in groups:
            if group["incident_id"]:
                incident = await repo.get(UUID(group["incident_id"]), Incident)
                assert incident.is_active, cluster.key
                members = {(await get(store, UUID(m["complaint_id"]))).incident_id for m in group["members"]}
                assert members <= {incident.id, None}, cluster.key  # None: a report that ended early
    assert joined >= 1  # this drill (seed 2) does bridge groups; not every seed does
    for report in reports:
        assert Counter(await topics(store, report.id))["ComplaintMovedToIncident"] <= 1
