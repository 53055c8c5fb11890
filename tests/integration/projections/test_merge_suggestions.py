"""可能是同一事件 Possibly one event, against real PostgreSQL: a drill's burst main in Newfield came in as three
incidents of different kinds and a substation failure in Old Town as two; the board suggests each as one event,
and a chain of three along a river as one suggestion. What is far, merged, resolved, declared hours apart or
without open located complaints is not suggested."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import asyncpg
import pytest
from eventsourcing.domain import Aggregate

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.migrate import LIVE_SCHEMA
from services.api.read_models import queries
from tests.integration.pages.harness import read_api
from tests.integration.projections.conftest import MakeRunner

NEWFIELD, OLD_TOWN, RIVERSIDE, NORTHGATE = (
    (22.775, 114.1375),
    (22.525, 114.1375),
    (22.775, 113.7875),
    (22.775, 114.3125),
)
NORTH_KM, EAST_KM = 1 / 111.195, 1 / 102.58  # degrees per kilometre, at this latitude


@dataclass
class Drill:
    incidents: dict[str, Incident] = field(default_factory=dict)
    aggregates: list[Aggregate] = field(default_factory=list)

    def incident(
        self, key: str, title: str, kind: str, at: tuple[float, float] | None, open: int, north_km: float = 0,
        east_km: float = 0,
    ) -> Incident:  # fmt: skip
        """An incident with `open` reports within ~100 m of `at` moved by the kilometres given (none located
        when `at` is None)."""
        declared = Incident.declare(title=title, kind=kind, districts=[], declared_by="triage")
        self.incidents[key] = declared
        self.aggregates.append(declared)
        for n in range(open):
            lat, lon = (
                (None, None)
                if at is None
                else (
                    at[0] + (north_km + (n % 3 - 1) * 0.1) * NORTH_KM,
                    at[1] + (east_km + (n % 2) * 0.1) * EAST_KM,
                )
            )
            self.report(declared, kind, lat, lon)
        return declared

    def report(self, incident: Incident, kind: str, lat: float | None, lon: float | None) -> Complaint:
        case = Complaint.receive(
            channel="hotline", description=f"{kind} drill", received_by="operator-drill", category=kind, lat=lat,
            lon=lon, district=None if lat is not None else "newfield",
        )  # fmt: skip
        case.link_to_incident(incident.id)
        incident.link_complaint(case.id)
        self.aggregates.append(case)
        return case

    def ids(self, *keys: str) -> list[UUID]:
        return [self.incidents[k].id for k in keys]


def drill() -> Drill:
    d = Drill()
    d.incident("water", "Water outage in Newfield", "water_outage", NEWFIELD, 5)
    d.incident("flood", "Flooding in Newfield", "flooding", NEWFIELD, 3, north_km=0.3)
    d.incident("road", "Road blocked in Newfield", "road_blocked", NEWFIELD, 2, east_km=0.4)
    d.incident("power", "Power outage in Old Town", "power_outage", OLD_TOWN, 6)
    d.incident("medical", "Medical access in Old Town", "medical_access", OLD_TOWN, 2, east_km=0.8)
    # A chain along the river: each 1.6 km from the next, the ends 3.2 km apart.
    for n, (key, kind) in enumerate(
        (("tree", "fallen_tree"), ("bank", "road_blocked"), ("line", "telecom_outage"))
    ):
        d.incident(key, f"{kind} in Riverside", kind, RIVERSIDE, 2, north_km=1.6 * n)
    # Not suggested: far away; merged; resolved; declared hours before; no open or no located complaint.
    d.incident("gas", "Gas leak in Northgate", "gas_leak", NORTHGATE, 3)
    d.incident("south", "Flooding in south Newfield", "flooding", NEWFIELD, 3, north_km=-8)
    d.incident("dup", "Power outage in Old Town (2)", "power_outage", OLD_TOWN, 2, north_km=0.2).merge_into(
        d.incidents["power"], by="command", reason="one substation"
    )
    d.incident("fixed", "Fallen tree in Old Town", "fallen_tree", OLD_TOWN, 1, east_km=0.3).update_status(
        "resolved", by="command"
    )
    d.incident("earlier", "Water outage in Newfield (last night)", "water_outage", NEWFIELD, 2, north_km=0.2)
    d.report(d.incident("rejected", "Gas leak in Newfield", "gas_leak", NEWFIELD, 0), "gas_leak",
             NEWFIELD[0], NEWFIELD[1]).reject("prank call", by="triage")  # fmt: skip
    d.incident("unlocated", "Telecom outage in Newfield", "telecom_outage", None, 2)
    return d


async def _backdate(pg: asyncpg.Connection, d: Drill) -> None:
    """Declared the evening before: the same street's outage then is not this burst main (the read model's
    `declared_at` is the declaration event's own time, so the test moves the row)."""
    await pg.execute(
        f"UPDATE {LIVE_SCHEMA}.incidents SET declared_at = declared_at - $2::interval WHERE id = $1",
        d.incidents["earlier"].id, timedelta(hours=5),
    )  # fmt: skip


async def _project(store: JetStreamEventStore, make_runner: MakeRunner, pg: asyncpg.Connection) -> Drill:
    d = drill()
    await AggregateStore(store, make_mapper()).save(*d.aggregates)
    await (await make_runner()).catch_up()
    await _backdate(pg, d)
    return d


async def test_near_incidents_of_any_kind_are_suggested_as_one_event_closest_first(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    d = await _project(store, make_runner, pg)
    found = await queries.merge_suggestions(pg)
    assert [[i["id"] for i in s["incidents"]] for s in found] == [
        d.ids("water", "flood", "road"),  # largest first: the one the others would go into
        d.ids("power", "medical"),
        d.ids("tree", "bank", "line"),  # a chain: one suggestion, its ends beyond 2 km
    ]
    assert [s["distance_km"] for s in found] == [pytest.approx(0.5, abs=0.1), pytest.approx(0.8, abs=0.1),
                                                 pytest.approx(3.2, abs=0.1)]  # fmt: skip
    assert found[0]["incidents"][0] == {
        "id": d.incidents["water"].id,
        "title": "Water outage in Newfield",
        "open": 5,
        "kind": "water_outage",
    }
    assert [i["open"] for i in found[1]["incidents"]] == [
        6,
        2,
    ]  # the merged one's reports are not the power's yet
    assert "3 incidents" in found[0]["reason"] and "km" in found[0]["reason"]


async def test_the_board_json_carries_the_suggestions_and_a_merge_ends_one(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        d = drill()
        await AggregateStore(store, make_mapper()).save(*d.aggregates)
        await harness.project()
        pg = await asyncpg.connect(database_url)
        try:
            await _backdate(pg, d)
        finally:
            await pg.close()
        board = await harness.get_json("/api/v1/board", "command")
        assert [i["id"] for i in board["merge_suggestions"][1]["incidents"]] == [
            str(i) for i in d.ids("power", "medical")
        ]
        assert set(board["merge_suggestions"][0]) == {"incidents", "distance_km", "reason"}
        # The other panels as they were: every incident not merged (and the harness's day's own).
        mine = {i.title for key, i in d.incidents.items() if key != "dup"}
        assert {i["title"] for i in board["incidents"]} == mine | {"Riverside flood"}

        repository = AggregateStore(store, make_mapper())
        medical = await repository.get(d.incidents["medical"].id, Incident)
        power = await repository.get(d.incidents["power"].id, Incident)
        medical.merge_into(power, by="command", reason="oxygen concentrators without power")
        await repository.save(medical, power)
        await harness.project()
        after = await harness.get_json("/api/v1/board", "command")
    titles = [[i["title"] for i in s["incidents"]] for s in after["merge_suggestions"]]
    assert titles == [["Water outage in Newfield", "Flooding in Newfield", "Road blocked in Newfield"],
                      ["fallen_tree in Riverside", "road_blocked in Riverside", "telecom_outage in Riverside"]]  # fmt: skip
