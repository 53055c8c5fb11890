"""Reference data: the packaged default is complete and consistent; a deployment can replace it."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.errors import DomainError
from events.reference import GROUPS, load_reference

REQUIRED_CATEGORIES = {
    "power_outage", "water_outage", "gas_leak", "telecom_outage", "road_blocked", "flooding", "fallen_tree",
    "shelter", "relief_supplies", "medical_access", "staff_attitude", "unclear_process", "unfair_policy",
    "no_information", "other",
}  # fmt: skip
REQUIRED_DEPARTMENTS = {
    "power", "water", "gas", "telecom", "roads", "drainage", "parks", "civil_affairs", "health", "hotline_office",
}  # fmt: skip


def test_default_reference_is_cached() -> None:
    assert load_reference() is load_reference()


@pytest.mark.parametrize(
    ("level", "accept", "resolve"), [("P1", 15, 240), ("P2", 60, 1440), ("P3", 240, 4320), ("P4", 1440, 7200)]
)
def test_default_deadlines_follow_the_domain_table(level: str, accept: int, resolve: int) -> None:
    deadlines = load_reference().deadlines(level)
    assert (deadlines.accept_within_minutes, deadlines.resolve_within_minutes) == (accept, resolve)
    assert deadlines.accept_within.total_seconds() == accept * 60


def test_default_reference_covers_required_codes() -> None:
    ref = load_reference()
    assert REQUIRED_CATEGORIES <= {c.code for c in ref.categories}
    assert REQUIRED_DEPARTMENTS <= {d.code for d in ref.departments}
    assert all(c.group in GROUPS for c in ref.categories)
    assert len({c.service_code for c in ref.categories}) == len(ref.categories)
    assert ref.channels == ("hotline", "web", "app", "social_media", "walk_in", "open311")
    assert ref.vulnerable_kinds == ("elderly", "disabled", "infant", "pregnant", "patient")
    assert len(ref.districts) == 8


def test_every_district_lies_inside_the_served_area() -> None:
    ref = load_reference()
    for district in ref.districts:
        lat, lon = district.bbox.centroid
        assert ref.in_served_area(lat, lon)
        assert ref.district_at(lat, lon) == district


@pytest.mark.parametrize(
    ("lat", "lon", "inside"), [(22.6, 114.0, True), (22.3, 114.0, False), (22.6, 114.5, False)]
)
def test_in_served_area(lat: float, lon: float, inside: bool) -> None:
    assert load_reference().in_served_area(lat, lon) is inside


def test_lookups_by_code_and_service_code() -> None:
    ref = load_reference()
    assert ref.category("gas_leak").default_department == "gas"
    assert ref.category_by_service_code("106").code == "flooding"
    assert ref.department("civil_affairs").name_zh == "民政局"
    assert ref.district("westbay").name_en == "Westbay"


@pytest.mark.parametrize(
    ("lookup", "code"),
    [
        (lambda r: r.category("nope"), "unknown_category"),
        (lambda r: r.department("nope"), "unknown_department"),
        (lambda r: r.district("nope"), "unknown_district"),
        (lambda r: r.deadlines("P9"), "unknown_level"),
        (lambda r: r.category_by_service_code("000"), "unknown_service_code"),
    ],
)
def test_unknown_codes_raise_domain_error(lookup: object, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        lookup(load_reference())  # type: ignore[operator]
    assert refused.value.code == code


def _packaged_text() -> str:
    return (Path(__file__).parents[3] / "events" / "reference" / "levee.toml").read_text(encoding="utf-8")


def test_a_deployment_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(
        _packaged_text().replace('name_en = "Harbourton"', 'name_en = "Rivermouth"'), encoding="utf-8"
    )
    assert load_reference(path).area.name_en == "Rivermouth"


def test_a_category_routed_to_an_unknown_department_is_rejected_at_load(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_packaged_text().replace('default_department = "parks"', 'default_department = "zoo"'))
    with pytest.raises(ValueError, match="unknown department 'zoo'"):
        load_reference(path)


def test_the_citys_time_zone_comes_from_the_file_and_a_wrong_one_stops_the_load(tmp_path: Path) -> None:
    assert str(load_reference().area.tz) == "Asia/Shanghai"
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(_packaged_text().replace('"Asia/Shanghai"', '"Asia/Kathmandu"'), encoding="utf-8")
    assert str(load_reference(elsewhere).area.tz) == "Asia/Kathmandu"
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(_packaged_text().replace('"Asia/Shanghai"', '"Beijing"'), encoding="utf-8")
    with pytest.raises(ValueError, match="time_zone 'Beijing'"):
        load_reference(wrong)
