"""Triage's own indexes: a reporter's contact index (one event to open, older streams still read) and the
cluster grid that finds a nearby group, for a small radius as for a large one."""

from __future__ import annotations

import copy
from collections.abc import Sequence
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
    assert [str(c) for c in stored.earlier_reports(again, timedelta(hours=12), 1.0)] == [first["complaint_id"]]
    assert list(stored.earlier_reports(report(30, lat=22.75), timedelta(hours=12), 1.0)) == []  # 22 km away


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
    found = _every_group_near(cluster, new, link, km)
    return found[0] if found else None


def _every_group_near(cluster: Cluster, new: dict[str, Any], link: timedelta, km: float) -> list[int]:
    """groups_for as a plain scan: every recent group with any member near the new report, in order."""
    from services.triage.indexes import near

    at = datetime.fromisoformat(new["at"])
    return [
        index
        for index, group in enumerate(cluster.groups)
        if at - datetime.fromisoformat(group["last_at"]) <= link
        and any(near(m, new, km) for m in group["members"])
    ]


@pytest.mark.parametrize("km", [0.3, 1.0, 3.0, 5.0])
def test_the_grid_finds_exactly_the_group_a_full_scan_finds(km: float) -> None:
    """Many small groups (a fallen tree's radius) and a few large ones (an outage's), growing and joined as
    triage grows and joins them, with reports without a place; the grid's answer is the full scan's every
    time, also after a twin is put back."""
    import random

    rng = random.Random(3)
    cluster = Cluster.open("nanshan", "fallen_tree", 0)
    link = timedelta(minutes=30)
    joins = 0
    for n in range(600):
        new = report(n // 5, lat=rng.uniform(22.45, 22.6))
        new["lon"] = rng.uniform(113.9, 114.1)
        if n in (150, 400):
            new["lat"] = new["lon"] = None  # a report without a place: near by district
        group = cluster.group_for(new, link, km)
        assert cluster.groups_for(new, link, km) == _every_group_near(cluster, new, link, km), n
        bridged = cluster.groups_for(new, link, km, located_only=True)
        if len(bridged) > 1:  # the report shows these groups are one event (as triage's _join)
            cluster.join(bridged[0], bridged[1:], incident_id=None)
            group, joins = bridged[0], joins + 1
        if group is None:
            cluster.start_group(new, incident_id=None, carried=0, carried_members=[])
        else:
            cluster.add(group, new)
        if n == 300:
            cluster.set_incident(0, uuid4())  # replaces the group's dict (not its members list)
        if n == 500:
            stored = cluster.collect_events()
            twin, as_it_was = cluster.twin(), copy.deepcopy(cluster.groups)
        if n == 550:
            cluster = twin.restore()  # as a worker puts it back after a batch not stored: its own grid
            assert cluster.groups == as_it_was
    assert joins > 0
    assert len(cluster.groups) > 1
    # A reloaded aggregate builds its own grid and answers the same.
    again = replay_cluster([*stored, *cluster.collect_events()])
    probe = {**report(125, lat=22.5), "lon": 114.0}
    assert (
        again.group_for(probe, link, km)
        == cluster.group_for(probe, link, km)
        == _full_scan(cluster, probe, link, km)
    )


def test_after_a_join_the_grid_finds_the_joined_reports_in_the_group_they_joined() -> None:
    link = timedelta(minutes=30)
    cluster = Cluster.open("nanshan", "flooding", 0)
    west = cluster.start_group(report(0, lat=22.50), incident_id=None, carried=0, carried_members=[])
    east = cluster.start_group(report(1, lat=22.60), incident_id=None, carried=0, carried_members=[])
    assert cluster.group_for(report(2, lat=22.60), link, 1.0) == east  # the grid is built
    cluster.join(west, [east], incident_id=None)

    beside_east = report(3, lat=22.601)
    assert cluster.group_for(beside_east, link, 1.0) == west == _full_scan(cluster, beside_east, link, 1.0)


def replay_cluster(events: Sequence[Cluster.Event]) -> Cluster:
    mapper = make_mapper()
    aggregate: Aggregate | None = None
    for event in events:
        aggregate = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(aggregate)
    assert isinstance(aggregate, Cluster)
    return aggregate
