"""Routing and the at-once escalation of a major complaint, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from events.complaint import Complaint
from events.errors import DomainError
from events.reference import load_reference
from services.dispatch.command_queue import with_command_queue
from services.dispatch.rules import (
    deadlines_for,
    immediate_escalation,
    load_routing,
    parse_routing,
    people_affected,
    route,
)

TABLE = load_routing(load_reference())


@pytest.mark.parametrize(
    ("category", "district", "returned_by", "department"),
    [
        ("power_outage", "old_town", [], "power"),
        ("flooding", "old_town", [], "drainage"),
        ("flooding", None, [], "drainage"),
        # district override: the coast evacuates first
        ("flooding", "eastpoint", [], "civil_affairs"),
        ("fallen_tree", "westbay", [], "roads"),
        ("fallen_tree", "newfield", [], "parks"),
        # a return re-routes to the next candidate, never back
        ("flooding", "old_town", ["drainage"], "roads"),
        ("flooding", "eastpoint", ["civil_affairs"], "drainage"),
        ("road_blocked", "riverside", ["parks"], "roads"),
        # two returns: command decides, even with candidates left
        ("flooding", "old_town", ["drainage", "roads"], "command"),
        # nothing routable
        (None, "old_town", [], "command"),
        ("power_outage", "old_town", ["power"], "command"),
    ],
)
def test_route_picks_the_first_candidate_that_has_not_returned_it(
    category: str | None, district: str | None, returned_by: list[str], department: str
) -> None:
    decision = route(TABLE, category=category, district=district, returned_by=returned_by)
    assert decision is not None
    assert decision.department == department
    assert decision.department not in returned_by
    assert decision.reason


def test_route_gives_up_when_command_itself_returned_it() -> None:
    returned = ["drainage", "roads", "command"]
    assert route(TABLE, category="flooding", district="old_town", returned_by=returned) is None


def test_unknown_category_in_the_table_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text('[categories]\nvolcano = ["power"]\nflooding = ["plumbers"]\n[districts.atlantis]\n')
    with pytest.raises(ValueError, match=r"unknown category 'volcano'.*plumbers|plumbers.*volcano"):
        load_routing(load_reference(), path)


def test_a_deployment_table_replaces_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "routing.toml"
    path.write_text(
        'max_returns = 1\n[escalation]\nmass_impact_people = 10\n[categories]\nflooding = ["roads"]\n'
    )
    table = load_routing(load_reference(), path)
    first = route(table, category="flooding", district="old_town", returned_by=[])
    after_one_return = route(table, category="flooding", district="old_town", returned_by=["roads"])
    assert first is not None and first.department == "roads"
    assert after_one_return is not None and after_one_return.department == "command"
    assert table.mass_impact_people == 10


def test_command_queue_is_a_department_the_domain_accepts() -> None:
    reference = with_command_queue(load_reference())
    assert reference.department("command").name_zh == "应急指挥部"
    assert with_command_queue(reference) is reference


@pytest.mark.parametrize(
    ("level", "media", "people", "expected_level", "words"),
    [
        ("P1", False, 1, 2, "P1"),
        ("P2", True, 1, 2, "media"),
        ("P3", False, 50, 2, "50 people"),
        ("P4", True, 500, 2, "media"),
        ("P2", False, 49, None, None),
        ("P4", False, 0, None, None),
        (None, False, 1, None, None),
    ],
)
def test_a_major_complaint_goes_to_command_at_once(
    level: str | None, media: bool, people: int, expected_level: int | None, words: str | None
) -> None:
    escalation = immediate_escalation(TABLE, level=level, media_exposure=media, people_affected=people)
    if expected_level is None:
        assert escalation is None
    else:
        assert escalation is not None and escalation.level == expected_level
        assert words is not None and words in escalation.reason


def people(value: object) -> dict[str, object]:
    return {"name": "people_affected", "weight": 10, "value": value, "evidence": ["300户"]}


@pytest.mark.parametrize(
    ("typed", "factors", "expected"),
    [
        (1, [], 1),  # triage found no number: the typed one
        (1, [people(900)], 900),  # "整栋楼停电…300户": triage's estimate, not the form's default 1
        (120, [people(60)], 120),  # the caller knew better: the larger
        (1, [{"name": "cluster", "value": 80}], 1),  # other factors do not count
        (1, [people("many")], 1),  # not a number: ignored rather than trusted
    ],
)
def test_people_affected_is_the_larger_of_typed_and_assessed(
    typed: int, factors: list[dict[str, object]], expected: int
) -> None:
    assert people_affected(typed, factors) == expected


def test_a_missed_deadline_is_recorded_at_the_level_the_complaint_already_has() -> None:
    complaint = Complaint.receive(channel="web", description="Gas smell in the stairwell.", received_by="web")
    complaint.validate()
    complaint.escalate(2, "major complaint: P1 complaint", by="dispatch")
    complaint.escalate(2, "missed accept-by deadline 2025-09-01T08:15:00+00:00", by="w", deadline_missed=True)
    assert complaint.escalation_level == 2
    with pytest.raises(DomainError) as refused:
        complaint.escalate(2, "again", by="cmd")  # staff still cannot escalate to the same level
    assert refused.value.code == "already_escalated"
    with pytest.raises(DomainError):
        complaint.escalate(1, "lower", by="w", deadline_missed=True)  # never down


@pytest.mark.parametrize(
    ("level", "accept", "resolve"),
    [
        ("P1", timedelta(minutes=15), timedelta(hours=4)),
        ("P2", timedelta(hours=1), timedelta(hours=24)),
        ("P3", timedelta(hours=4), timedelta(days=3)),
        ("P4", timedelta(days=1), timedelta(days=5)),
    ],
)
def test_deadlines_come_from_the_level(level: str, accept: timedelta, resolve: timedelta) -> None:
    start = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
    assert deadlines_for(load_reference(), level, start) == (start + accept, start + resolve)


def test_parse_routing_defaults() -> None:
    table = parse_routing({})
    assert (table.command, table.max_returns, table.mass_impact_people) == ("command", 2, 50)
