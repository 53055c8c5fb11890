"""Twins (events/twins.py): the copy a worker falls back on when a batch's changes are not stored. A twin must
stay as it was whatever the batch then does to the original, and must answer like the original did."""

from __future__ import annotations

import copy
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

from events.incident import Incident
from services.triage.indexes import Cluster, Member


def member(n: int, lat: float = 22.5, at_minute: int = 0) -> Member:
    at = datetime(2026, 12, 6, 1, at_minute, tzinfo=UTC)
    return {"complaint_id": str(uuid.UUID(int=n)), "contact": None, "lat": lat, "lon": 114.0,
            "district": "old_town", "at": at.isoformat()}  # fmt: skip


def test_an_incidents_twin_keeps_its_links_while_the_original_links_more() -> None:
    incident = Incident.declare(title="Flooding in Old Town", kind="flooding", districts=["old_town"],
                                declared_by="triage")  # fmt: skip
    first, second, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    incident.link_complaint(first)
    incident.link_complaint(second)
    incident.collect_events()
    assert incident.position_of(second) == 1  # the lookup is built on the original before the twin

    made = incident.twin()
    incident.link_complaint(later)
    twin = made.restore()

    assert twin.complaint_ids == [first, second] and not twin.pending_events
    assert twin.position_of(later) is None and twin.position_of(second) == 1
    assert not twin.has_complaint(later) and incident.has_complaint(later)
    assert twin.version == incident.version - 1 and len(incident.pending_events) == 1


def test_a_clusters_twin_keeps_its_groups_while_the_original_grows_and_joins_them() -> None:
    cluster = Cluster.open("old_town", "flooding", 1)
    a = cluster.start_group(member(1), incident_id=None, carried=0, carried_members=[])
    cluster.add(a, member(2))
    b = cluster.start_group(member(3, lat=22.9), incident_id=None, carried=0, carried_members=[])
    cluster.collect_events()
    near = cluster.groups_for(member(4), timedelta(hours=2), 1.0)  # builds the proximity grid
    assert near == [a]

    made, as_it_was = cluster.twin(), copy.deepcopy(cluster.groups)
    cluster.add(a, member(5))
    cluster.join(a, [b], incident_id=uuid.uuid4())
    cluster.set_incident(a, uuid.uuid4())
    cluster.start_group(member(7, lat=22.7), incident_id=None, carried=0, carried_members=[])
    twin = made.restore()
    assert twin.groups == as_it_was

    assert [len(g["members"]) for g in twin.groups] == [2, 1] and not twin.pending_events
    assert all(g["incident_id"] is None for g in twin.groups) and "joined_into" not in twin.groups[1]
    assert twin.groups_for(member(6, lat=22.9), timedelta(hours=2), 1.0) == [b]  # its own grid, as it was
    assert cluster.groups_for(member(6, lat=22.9), timedelta(hours=2), 1.0) == [a]  # b joined a


def test_a_twin_shares_the_growing_lists_until_it_is_used() -> None:
    """Made for every cached aggregate a batch touches and almost never used, a twin costs the aggregate's
    shape, not its size: a surge's incident of thousands of complaints is not copied for each batch."""
    incident = Incident.declare(title="Flooding in Old Town", kind="flooding", districts=["old_town"],
                                declared_by="triage")  # fmt: skip
    for _ in range(20_000):
        incident.link_complaint(uuid.uuid4())
    incident.collect_events()

    tracemalloc.start()
    try:
        made = incident.twin()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000  # bytes; a copy of the list of links alone is 160,000
    incident.link_complaint(uuid.uuid4())

    twin = made.restore()
    assert len(twin.complaint_ids) == 20_000 and len(incident.complaint_ids) == 20_001
    assert twin.complaint_ids is not incident.complaint_ids
    assert made.restore() is twin and len(twin.complaint_ids) == 20_000  # restored once
