"""How far apart (and how far apart in time) two reports of one event may be, per category: a fallen tree is
a point, a power outage covers an area. The table in rules.toml, its checks at load, and the grouping."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from events.reference import load_reference
from services.triage import rules as rules_module
from services.triage.indexes import Cluster, Member, member
from services.triage.rules import Clustering, Reach, load_rules, parse_rules

AT = datetime(2026, 9, 14, 3, 0, tzinfo=UTC)
KM_PER_DEGREE_LAT = 111.195
RAW = tomllib.loads((Path(rules_module.__file__).parent / "rules.toml").read_text(encoding="utf-8"))


def report(km_north: float = 0.0, minutes: int = 0) -> Member:
    """A report `km_north` of a fixed point in Westbay, `minutes` after the first."""
    lat = 22.45 + km_north / KM_PER_DEGREE_LAT
    return member(uuid4(), uuid4().hex, lat, 113.80, "westbay", AT + timedelta(minutes=minutes))


def joins(clustering: Clustering, category: str, second: Member) -> bool:
    """Does `second` join the group the first report (at the fixed point, at AT) started?"""
    cluster = Cluster.open("westbay", category, 0)
    cluster.start_group(report(), incident_id=None, carried=0, carried_members=[])
    reach = clustering.reach(category)
    return cluster.group_for(second, reach.link, reach.nearby_km) == 0


def with_clustering(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    raw["clustering"].update(changes)
    return raw


@pytest.mark.parametrize(
    ("category", "km_apart", "one_event"),
    [
        ("fallen_tree", 0.2, True),
        ("fallen_tree", 0.5, False),
        ("fallen_tree", 2.9, False),  # the drill's two trees: two events, never one incident
        ("gas_leak", 0.4, True),
        ("gas_leak", 2.9, False),
        ("road_blocked", 0.4, True),
        ("road_blocked", 1.5, False),
        ("flooding", 0.9, True),
        ("flooding", 1.5, False),
        ("relief_supplies", 1.8, True),
        ("relief_supplies", 2.9, False),
        ("power_outage", 2.9, True),  # one substation's outage over an area
        ("power_outage", 4.8, True),
        ("power_outage", 6.0, False),
        ("water_outage", 4.8, True),
        ("telecom_outage", 4.8, True),
        ("telecom_outage", 6.0, False),
    ],
)
def test_how_far_apart_reports_of_one_event_may_be_depends_on_the_category(
    category: str, km_apart: float, one_event: bool
) -> None:
    assert joins(load_rules().clustering, category, report(km_apart, minutes=10)) is one_event


def test_every_clustered_category_has_its_own_reach_and_points_reach_less_than_areas() -> None:
    clustering = load_rules().clustering
    clustered = {c.code for c in load_reference().categories if c.group in clustering.groups}
    assert set(clustering.by_category) == clustered
    km = {code: clustering.reach(code).nearby_km for code in clustered}
    assert max(km["fallen_tree"], km["gas_leak"]) < 1.0 <= km["flooding"] < km["power_outage"]
    assert km["power_outage"] == km["water_outage"] == km["telecom_outage"] >= 3.0


def test_a_category_left_out_of_the_table_takes_the_default() -> None:
    raw = with_clustering(nearby_km=2.5, link_minutes=90)
    del raw["clustering"]["by_category"]["fallen_tree"]
    clustering = parse_rules(raw, load_reference(), "test.toml").clustering
    assert clustering.reach("fallen_tree") == Reach(2.5, 90)
    assert joins(clustering, "fallen_tree", report(2.4, minutes=80))
    assert not joins(clustering, "fallen_tree", report(2.4, minutes=100))  # past the default link window


def test_an_entry_may_give_its_own_link_window_and_keep_the_default_distance() -> None:
    raw = with_clustering()
    raw["clustering"]["by_category"]["gas_leak"] = {"link_minutes": 30}
    clustering = parse_rules(raw, load_reference(), "test.toml").clustering
    assert clustering.reach("gas_leak") == Reach(clustering.nearby_km, 30)
    assert joins(clustering, "gas_leak", report(0.1, minutes=25))
    assert not joins(clustering, "gas_leak", report(0.1, minutes=45))
    assert joins(clustering, "fallen_tree", report(0.1, minutes=45))  # the others keep theirs


@pytest.mark.parametrize(
    ("entries", "defaults", "problem"),
    [
        ({"fallen_trees": {"nearby_km": 0.3}}, {}, r"unknown category 'fallen_trees'"),
        ({"fallen_tree": {"nearby_km": 0}}, {}, r"by_category\.fallen_tree\.nearby_km: 0 must be above zero"),
        ({"gas_leak": {"nearby_km": -0.5}}, {}, r"gas_leak\.nearby_km: -0\.5 must be above zero"),
        ({"gas_leak": {"nearby_km": "300m"}}, {}, r"gas_leak\.nearby_km: '300m' is not a number"),
        ({"gas_leak": {"nearby_km": float("nan")}}, {}, r"gas_leak\.nearby_km: nan is not a finite number"),
        ({"flooding": {"link_minutes": 0}}, {}, r"flooding\.link_minutes: 0 must be above zero"),
        ({"flooding": {"link_minutes": 30.5}}, {}, r"flooding\.link_minutes: 30\.5 is not a whole number"),
        ({"flooding": {"link_minutes": 180}}, {}, r"flooding\.link_minutes: 180 is longer than"),
        ({"flooding": {"nearby_m": 800}}, {}, r"flooding: unknown settings \['nearby_m'\]"),
        ({"flooding": 1.0}, {}, r"by_category\.flooding must be a table"),
        ({"staff_attitude": {"nearby_km": 1.0}}, {}, r"staff_attitude is never clustered"),
        ({}, {"nearby_km": 0.0}, r"clustering\.nearby_km: 0\.0 must be above zero"),
        ({}, {"nearby_km": None}, r"clustering\.nearby_km is missing"),
        ({}, {"link_minutes": 240}, r"clustering\.link_minutes: 240 is longer than"),
    ],
)
def test_a_wrong_clustering_table_is_refused_at_load_naming_what_is_wrong(
    entries: dict[str, Any], defaults: dict[str, Any], problem: str
) -> None:
    raw = with_clustering(**defaults)
    raw["clustering"]["by_category"].update(entries)
    raw["clustering"] = {k: v for k, v in raw["clustering"].items() if v is not None}
    with pytest.raises(ValueError, match=r"invalid triage rules in broken\.toml: .*" + problem):
        parse_rules(raw, load_reference(), "broken.toml")


def test_every_problem_in_the_table_is_named_at_once() -> None:
    raw = with_clustering()
    raw["clustering"]["by_category"].update({"trees": {"nearby_km": 0.3}, "gas_leak": {"nearby_km": 0}})
    with pytest.raises(ValueError) as refused:
        parse_rules(raw, load_reference(), "broken.toml")
    assert "unknown category 'trees'" in str(refused.value)
    assert "gas_leak.nearby_km: 0 must be above zero" in str(refused.value)
