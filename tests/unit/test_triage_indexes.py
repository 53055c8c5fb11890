"""Triage's own indexes: a reporter's contact index (one event to open, older streams still read) and the
cluster grid that finds a nearby group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from eventsourcing.domain import Aggregate

from events.mapper import make_mapper
from services.triage.indexes import ContactIndex, ContactIndexOpened, ContactReportRecorded, member

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


def test_the_grid_finds_exactly_the_groups_a_full_scan_finds() -> None:
    import random

    from services.triage.indexes import Proximity, near

    rng = random.Random(3)
    for km in (0.5, 1.0, 3.0):
        members = [report(0, lat=rng.uniform(22.4, 22.9)) for _ in range(300)]
        for m in members:
            m["lon"] = rng.uniform(113.7, 114.4)
        grid = Proximity(members, km)
        for _ in range(400):
            new = report(1, lat=rng.uniform(22.4, 22.9))
            new["lon"] = rng.uniform(113.7, 114.4)
            grid.catch_up()
            assert grid.has_near(new) == any(near(m, new, km) for m in members)
            if rng.random() < 0.2:
                members.append(new)  # the group grows in place, as ClusterMemberAdded does
        members.append({**report(2), "lat": None, "lon": None})  # one report without a place
        grid.catch_up()
        assert grid.has_near(report(3, lat=10.0))  # near by district, as the full scan says
