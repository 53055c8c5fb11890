"""Reference data a deployment can replace: served area, districts, categories, departments, deadlines.

Loaded from one TOML file (``levee.toml`` beside this module by default). Loading reads a file, so it
happens on first use, never at import time; the default is cached for the life of the process.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.errors import DomainError

GROUPS = ("service_quality", "policy_execution", "emergency_event", "information_gap")
LEVELS = ("P1", "P2", "P3", "P4")
# The queue dispatch sends a complaint to when no department can take it (routing.toml `command`): command
# staff work it. Not a department of the city, so never in the reference data; readers accept it by this name.
COMMAND_QUEUE = "command"


# The ninths of a box, south to north by west to east: (English, Chinese).
_PARTS = (
    (("south-west", "西南部"), ("south", "南部"), ("south-east", "东南部")),
    (("west", "西部"), ("centre", "中部"), ("east", "东部")),
    (("north-west", "西北部"), ("north", "北部"), ("north-east", "东北部")),
)


def _third(value: float, low: float, high: float) -> int:
    if high <= low:
        return 1
    return min(2, max(0, int(3 * (value - low) / (high - low))))


@dataclass(frozen=True)
class BoundingBox:
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    @property
    def centroid(self) -> tuple[float, float]:
        """(lat, lon) of the box's centre; good enough to place a label on a map."""
        return ((self.south + self.north) / 2, (self.west + self.east) / 2)

    def part(self, lat: float, lon: float) -> tuple[str, str]:
        """Which ninth of the box a point lies in, in words: ("north-east", "东北部"), ("centre", "中部").

        A point outside the box counts as in the nearest ninth."""
        row = _third(lat, self.south, self.north)
        column = _third(lon, self.west, self.east)
        return _PARTS[row][column]


@dataclass(frozen=True)
class Area:
    code: str
    name_en: str
    name_zh: str
    bbox: BoundingBox
    # The city's time zone (IANA name): its calendar days and hours in reports, Open311 dates given without an
    # offset, and the time printed in public summaries.
    time_zone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class District:
    code: str
    name_en: str
    name_zh: str
    bbox: BoundingBox


@dataclass(frozen=True)
class Category:
    code: str
    name_en: str
    name_zh: str
    service_code: str
    group: str
    default_department: str
    description: str


@dataclass(frozen=True)
class Department:
    code: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class Deadlines:
    level: str
    accept_within_minutes: int
    resolve_within_minutes: int

    @property
    def accept_within(self) -> timedelta:
        return timedelta(minutes=self.accept_within_minutes)

    @property
    def resolve_within(self) -> timedelta:
        return timedelta(minutes=self.resolve_within_minutes)


@dataclass(frozen=True)
class Reference:
    area: Area
    districts: tuple[District, ...]
    categories: tuple[Category, ...]
    departments: tuple[Department, ...]
    levels: tuple[Deadlines, ...]
    channels: tuple[str, ...]
    vulnerable_kinds: tuple[str, ...]
    # Numbers the city publishes (hotlines, district emergency offices): a notice may print them, though they
    # look like the phone numbers the redaction guard refuses.
    public_numbers: tuple[str, ...] = ()

    def category(self, code: str) -> Category:
        return _find(self.categories, code, "category")

    def department(self, code: str) -> Department:
        return _find(self.departments, code, "department")

    def district(self, code: str) -> District:
        return _find(self.districts, code, "district")

    def category_by_service_code(self, service_code: str) -> Category:
        """Open311 clients speak service codes, not our category codes."""
        for category in self.categories:
            if category.service_code == service_code:
                return category
        raise DomainError(
            "unknown_service_code", f"No service has code {service_code!r}.", field="service_code"
        )

    def deadlines(self, level: str) -> Deadlines:
        for deadlines in self.levels:
            if deadlines.level == level:
                return deadlines
        raise DomainError(
            "unknown_level", f"No priority level {level!r}; use one of {LEVELS}.", field="level"
        )

    def in_served_area(self, lat: float, lon: float) -> bool:
        return self.area.bbox.contains(lat, lon)

    def district_at(self, lat: float, lon: float) -> District | None:
        """The district whose box holds the point; the first wins on a shared edge."""
        for district in self.districts:
            if district.bbox.contains(lat, lon):
                return district
        return None


_configured: Path | None = None  # this process's deployment file (LEVEE_REFERENCE); None: the packaged one


def configure_reference(path: Path | None) -> None:
    """Make `path` what `load_reference()` returns in this process. Each entry point calls it once, from
    its settings, so every layer (domain defaults, read models, tokens) sees the deployment's data."""
    global _configured
    if path is not None:
        _from_file(path)  # a bad file stops the process now, not at the first request
    _configured = path


def load_reference(path: Path | None = None) -> Reference:
    """Load and check a reference file; ``None`` means the process's configured one, else the packaged
    default. Each file is read once (cached by path)."""
    path = path or _configured
    return _default_reference() if path is None else _from_file(path)


@cache
def _from_file(path: Path) -> Reference:
    return _parse(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


T = TypeVar("T", Category, Department, District)


@cache
def _default_reference() -> Reference:
    text = resources.files(__name__).joinpath("levee.toml").read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), "levee.toml")


def _find(items: tuple[T, ...], code: str, kind: str) -> T:
    for item in items:
        if item.code == code:
            return item
    raise DomainError(f"unknown_{kind}", f"No {kind} has code {code!r}.", field=kind)


def _bbox(raw: dict[str, Any]) -> BoundingBox:
    return BoundingBox(
        south=float(raw["south"]), west=float(raw["west"]), north=float(raw["north"]), east=float(raw["east"])
    )


def _parse(raw: dict[str, Any], source: str) -> Reference:
    area = raw["area"]
    reference = Reference(
        area=Area(
            code=area["code"],
            name_en=area["name_en"],
            name_zh=area["name_zh"],
            bbox=_bbox(area),
            time_zone=str(area.get("time_zone", "Asia/Shanghai")),
        ),
        districts=tuple(
            District(code=d["code"], name_en=d["name_en"], name_zh=d["name_zh"], bbox=_bbox(d))
            for d in raw["districts"]
        ),
        categories=tuple(Category(**c) for c in raw["categories"]),
        departments=tuple(Department(**d) for d in raw["departments"]),
        levels=tuple(Deadlines(level=level, **raw["deadlines"][level]) for level in LEVELS),
        channels=tuple(raw["intake"]["channels"]),
        vulnerable_kinds=tuple(raw["intake"]["vulnerable_kinds"]),
        public_numbers=tuple(str(n) for n in area.get("public_numbers", ())),
    )
    _check(reference, source)
    return reference


def _check(ref: Reference, source: str) -> None:
    """A wrong deployment file should stop the process at start, not mis-route a complaint later."""
    problems: list[str] = []
    try:
        ref.area.tz  # noqa: B018 - loading it is the check
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"area: time_zone {ref.area.time_zone!r} is no IANA time zone (e.g. Asia/Shanghai)")
    department_codes = {d.code for d in ref.departments}
    for category in ref.categories:
        if category.group not in GROUPS:
            problems.append(f"category {category.code}: group {category.group!r} not in {GROUPS}")
        if category.default_department not in department_codes:
            problems.append(f"category {category.code}: unknown department {category.default_department!r}")
    for kind, items in (
        ("district", ref.districts),
        ("category", ref.categories),
        ("department", ref.departments),
    ):
        codes = [item.code for item in items]
        if len(codes) != len(set(codes)):
            problems.append(f"duplicate {kind} codes")
    for box_owner, box in [(ref.area.code, ref.area.bbox), *((d.code, d.bbox) for d in ref.districts)]:
        if not (box.south < box.north and box.west < box.east):
            problems.append(f"{box_owner}: empty bounding box")
    for deadlines in ref.levels:
        if not 0 < deadlines.accept_within_minutes <= deadlines.resolve_within_minutes:
            problems.append(f"{deadlines.level}: accept must be positive and within resolve")
    if problems:
        raise ValueError(f"invalid reference data in {source}: " + "; ".join(problems))
