"""Triage at its edges: a danger after "but", the duplicate window, one caller twice, the grid at a cell's edge,
no coordinates, a raised level's deadlines, the second reporter, a closed first case. Each test failed on a
mutation a fourth audit made of services/triage."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import UUID

from events.complaint import Complaint
from events.complaint_rules import Status
from events.geo import KM_PER_DEGREE, within_km
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateNotFound, AggregateStore
from services.triage import handlers
from services.triage.app import build_worker, default_deps
from services.triage.incidents import entry_for
from services.triage.indexes import Cluster, ContactIndex, Proximity, member, near
from services.triage.scoring import Assessment, ComplaintFacts, score

DEPS = default_deps()
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def receive(
    text: str,
    contact: str | None = None,
    lat: float | None = 22.45,
    lon: float | None = 113.80,
    category: str | None = None,
    district: str | None = None,
) -> Complaint:
    return Complaint.receive(
        channel="hotline",
        description=text,
        received_by="op",
        category=category,
        lat=lat,
        lon=lon,
        contact_hash=contact,
        district=district,
    )


class FakeUow:
    def __init__(self, *aggregates) -> None:
        self.found = {a.id: a for a in aggregates}

    async def get(self, aggregate_id, cls=None):
        if aggregate_id not in self.found:
            raise AggregateNotFound(aggregate_id)
        return self.found[aggregate_id]

    def add(self, aggregate) -> None:
        self.found[aggregate.id] = aggregate


async def test_same_caller_13_hours_later_is_a_new_case() -> None:
    first = receive("停电了，整栋楼都没电", contact="c" * 64)
    index = ContactIndex.start(first.contact_hash, "power_outage", entry_for(first, T0))
    later = receive("又停电了，整栋楼没电", contact="c" * 64)
    dup = await handlers._is_duplicate(
        later, "power_outage", T0 + timedelta(hours=13), FakeUow(first, index), DEPS
    )
    assert dup is False  # the window is 720 minutes


def test_grid_finds_a_member_just_under_the_reach_east_west() -> None:
    km, lat = 1.0, 22.45
    grid = Proximity(km)
    # A new report at the east edge of a grid cell, a member 0.97 km further east on the same latitude.
    probe_cell = Proximity(km)
    probe_cell._cell(lat, 113.8)
    step = probe_cell.lon_step
    lon = (int(113.8 / step) + 0.999) * step
    east = lon + 0.97 / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    m = member(UUID(int=1), "a", lat, east, "riverside", T0)
    new = member(UUID(int=2), "b", lat, lon, "riverside", T0)
    assert within_km(lat, lon, lat, east, km)
    grid.catch_up([{"members": [m]}])
    assert grid.near_groups(new) == [0]


def test_one_person_calling_twice_is_one_reporter() -> None:
    cluster = Cluster.open("riverside", "power_outage", 1)
    g = cluster.start_group(
        member(UUID(int=1), "same", 22.45, 113.8, "riverside", T0),
        incident_id=None,
        carried=0,
        carried_members=[],
    )
    cluster.add(g, member(UUID(int=2), "same", 22.46, 113.8, "riverside", T0))
    assert cluster.reporters(g) == 1


def test_a_raised_level_never_gives_more_time() -> None:
    case = SimpleNamespace(accept_by=T0 + timedelta(minutes=30), resolve_by=T0 + timedelta(hours=2))
    args = handlers._deadline_args(
        Assessment(50, "P2", "flooding"), case, T0 + timedelta(minutes=20), DEPS.reference
    )
    assert args["accept_by"] <= case.accept_by and args["resolve_by"] <= case.resolve_by


def test_no_coordinates_in_another_district_is_not_the_same_place() -> None:
    home = member(UUID(int=1), "c", None, None, "riverside", T0)
    work = member(UUID(int=2), "c", None, None, "old_town", T0 + timedelta(hours=1))
    assert not near(home, work, 1.0)
    index = ContactIndex.start("c", "flooding", home)
    assert list(index.earlier_reports(work, timedelta(hours=12), 1.0)) == []


def test_a_danger_after_but_is_not_ended_by_the_resolution_before_it() -> None:
    for text in ("火已经扑灭了不过有人被困在电梯里", "停电已经恢复了但是有人被困在电梯里"):
        assert score(ComplaintFacts(description=text)).level == "P1", text


async def drain(worker) -> None:
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass


async def test_the_second_reporter_raises_the_first_reports_level(store: JetStreamEventStore) -> None:
    repo = AggregateStore(store, make_mapper())
    worker = build_worker(store, DEPS)
    first = receive("Road blocked by mud, 10 people waiting", contact="a" * 64, category="road_blocked")
    await repo.save(first)
    await drain(worker)
    assert (await repo.get(first.id, Complaint)).priority_level == "P3"
    await repo.save(
        receive(
            "Road blocked by mud, 10 people waiting", contact="b" * 64, category="road_blocked", lat=22.4505
        )
    )
    await drain(worker)
    assert (await repo.get(first.id, Complaint)).priority_level == "P2"


async def test_a_callers_new_report_after_the_first_was_closed_is_a_new_case(
    store: JetStreamEventStore,
) -> None:
    repo = AggregateStore(store, make_mapper())
    worker = build_worker(store, DEPS)
    first = receive("停电了，整栋楼都没电", contact="r" * 64, category="power_outage")
    await repo.save(first)
    await drain(worker)
    case = await repo.get(first.id, Complaint)
    case.dispatch("power", by="dispatch", reason="category route")
    case.accept("power")
    case.resolve("power", "Feeder switched back")
    case.record_follow_up(True, "satisfied")
    if case.status != Status.CLOSED:
        case.close()
    await repo.save(case)
    again = receive("又停电了，还是没电", contact="r" * 64, category="power_outage")
    await repo.save(again)
    await drain(worker)
    assert (await repo.get(again.id, Complaint)).status == Status.PRIORITISED
