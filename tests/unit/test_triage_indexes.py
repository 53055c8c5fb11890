"""Triage's own indexes: a reporter's contact index (one event to open, older streams still read) and the
cluster grid that finds a nearby group, for a small radius as for a large one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from events.mapper import make_mapper
from services.triage.indexes import Cluster, ContactIndex, ContactIndexOpened, ContactReportRecorded, member

AT = datetime(2026, 9, 14, 3, 0, tzinfo=UTC)


def report(minutes: int, lat: float = 22.55) -> dict:
    return member(uuid4(), "c0ffee", lat, 114.05, "nanshan", AT + timedelta(minutes=minutes))


def replay(index: ContactIndex) -> ContactIndex:
    mapper = make_mapper()
    aggregate: Aggregate | None = None
    for event in index.collect_events():
        aggregate = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(aggregate)
    assert isinstance(aggregate, ContactIndex)
    return aggregate


def test_an_index_starts_with_its_first_report_in_one_event() -> None:
    first = report(0)
    index = ContactIndex.start("c0ffee", "power_outage", first)
    assert len(index.pending_events) == 1
    stored = replay(index)
    assert stored.id == ContactIndex.index_id("c0ffee", "power_outage")
    assert stored.entries == [first]
    again = report(30)
    assert str(stored.earlier_report(again, timedelta(hours=12), 1.0)) == first["complaint_id"]
    assert stored.earlier_report(report(30, lat=22.75), timedelta(hours=12), 1.0) is None  # 22 km away


def test_an_index_written_by_an_earlier_version_reads_the_same() -> None:
    first = report(0)
    old = ContactIndex._create(ContactIndexOpened, id=ContactIndex.index_id("c0ffee", "power_outage"),
                               key="c0ffee:power_outage")  # fmt: skip
    old.trigger_event(ContactReportRecorded, entry=dict(first))
    new = ContactIndex.start("c0ffee", "power_outage", first)
    old_stored, new_stored = replay(old), replay(new)
    assert (old_stored.key, old_stored.entries) == (new_stored.key, new_stored.entries)


def _full_scan(cluster: Cluster, new: dict[str, Any], link: timedelta, km: float) -> int | None:
    """group_for as a plain scan: the first recent group with any member near the new report."""
    from services.triage.indexes import near

    at = datetime.fromisoformat(new["at"])
    for index, group in enumerate(cluster.groups):
        recent = at - datetime.fromisoformat(group["last_at"]) <= link
        if recent and any(near(m, new, km) for m in group["members"]):
            return index
    return None


@pytest.mark.parametrize("km", [0.3, 1.0, 3.0, 5.0])
def test_the_grid_finds_exactly_the_group_a_full_scan_finds(km: float) -> None:
    """Many small groups (a fallen tree's radius) and a few large ones (an outage's), growing as triage grows
    them, with reports without a place; the grid's answer is the full scan's every time."""
    import random

    rng = random.Random(3)
    cluster = Cluster.open("nanshan", "fallen_tree", 0)
    link = timedelta(minutes=30)
    for n in range(600):
        new = report(n // 5, lat=rng.uniform(22.45, 22.6))
        new["lon"] = rng.uniform(113.9, 114.1)
        if n in (150, 400):
            new["lat"] = new["lon"] = None  # a report without a place: near by district
        group = cluster.group_for(new, link, km)
        assert group == _full_scan(cluster, new, link, km), n
        if group is None:
            cluster.start_group(new, incident_id=None, carried=0, carried_members=[])
        else:
            cluster.add(group, new)
        if n == 300:
            cluster.set_incident(0, uuid4())  # copies the groups (not their members lists)
    assert len(cluster.groups) > 1
    again = replay_cluster(cluster)  # a reloaded aggregate builds its own grid and answers the same
    probe = {**report(125, lat=22.5), "lon": 114.0}
    assert (
        again.group_for(probe, link, km)
        == cluster.group_for(probe, link, km)
        == _full_scan(cluster, probe, link, km)
    )


def replay_cluster(cluster: Cluster) -> Cluster:
    mapper = make_mapper()
    aggregate: Aggregate | None = None
    for event in cluster.collect_events():
        aggregate = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(aggregate)
    assert isinstance(aggregate, Cluster)
    return aggregate
