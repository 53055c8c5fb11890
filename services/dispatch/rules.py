"""Dispatch decisions, pure: where a complaint goes, and whether it goes up to command at once.

The routing table is data (``routing.toml``); these functions only read it. Nothing here does I/O
except ``load_routing``, which reads the file once at start.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from events.reference import COMMAND_QUEUE, Reference

COMMAND_LEVEL = 2


@dataclass(frozen=True)
class RoutingTable:
    categories: Mapping[str, tuple[str, ...]]
    districts: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    command: str = COMMAND_QUEUE
    max_returns: int = 2
    mass_impact_people: int = 50

    def candidates(self, category: str | None, district: str | None) -> tuple[str, ...]:
        """The ordered departments for a category, a district's own list first if it has one."""
        if category is None:
            return ()
        override = self.districts.get(district or "", {}).get(category)
        return override if override is not None else self.categories.get(category, ())


@dataclass(frozen=True)
class Route:
    department: str
    reason: str


@dataclass(frozen=True)
class Escalation:
    level: int
    reason: str


def route(
    table: RoutingTable, *, category: str | None, district: str | None, returned_by: Sequence[str]
) -> Route | None:
    """Where the complaint goes next; None when even command has returned it (staff decide by hand)."""
    if table.command in returned_by:
        return None
    if len(returned_by) >= table.max_returns:
        return Route(table.command, f"returned {len(returned_by)} times: command decides")
    candidates = table.candidates(category, district)
    for rank, department in enumerate(candidates, start=1):
        if department not in returned_by:
            return Route(department, f"{category} in {district or 'no district'}: candidate {rank}")
    if not candidates:
        return Route(table.command, f"no route for {category or 'no category'}: command decides")
    return Route(table.command, f"every candidate for {category} returned it: command decides")


def immediate_escalation(
    table: RoutingTable, *, level: str | None, media_exposure: bool, people_affected: int
) -> Escalation | None:
    """A major complaint goes to command at once (DOMAIN: escalate a major complaint at once)."""
    reasons = []
    if level == "P1":
        reasons.append("P1 complaint")
    if media_exposure:
        reasons.append("media exposure")
    if people_affected >= table.mass_impact_people:
        reasons.append(f"{people_affected} people affected (threshold {table.mass_impact_people})")
    if not reasons:
        return None
    return Escalation(COMMAND_LEVEL, "major complaint: " + ", ".join(reasons))


def people_affected(typed: int, factors: Sequence[Mapping[str, Any]]) -> int:
    """The larger of the count typed at intake and triage's estimate from the text.

    Triage records its estimate as the ``people_affected`` factor (e.g. "整栋楼停电…300户" -> 900); an
    intake form defaults to 1, so the typed number alone misses most mass-impact complaints.
    """
    assessed = [
        f["value"] for f in factors
        if f.get("name") == "people_affected" and isinstance(f.get("value"), int) and not isinstance(f["value"], bool)
    ]  # fmt: skip
    return max([typed, *assessed])


def deadlines_for(reference: Reference, level: str, start: datetime) -> tuple[datetime, datetime]:
    """(accept_by, resolve_by) for a level counted from ``start``, from the deployment's reference data."""
    deadlines = reference.deadlines(level)
    return start + deadlines.accept_within, start + deadlines.resolve_within


# -- loading ------------------------------------------------------------------------------------------


def load_routing(reference: Reference, path: Path | None = None) -> RoutingTable:
    """The packaged table, or a deployment's; checked against the reference data so a typo stops the start."""
    if path is None:
        text = resources.files(__package__ or "services.dispatch").joinpath("routing.toml").read_text("utf-8")
        source = "routing.toml"
    else:
        text, source = path.read_text(encoding="utf-8"), str(path)
    table = parse_routing(tomllib.loads(text))
    problems = check_routing(table, reference)
    if problems:
        raise ValueError(f"invalid routing table {source}: " + "; ".join(problems))
    return table


def parse_routing(raw: Mapping[str, Any]) -> RoutingTable:
    return RoutingTable(
        categories={code: tuple(deps) for code, deps in raw.get("categories", {}).items()},
        districts={
            district: {code: tuple(deps) for code, deps in overrides.items()}
            for district, overrides in raw.get("districts", {}).items()
        },
        command=raw.get("command", COMMAND_QUEUE),
        max_returns=int(raw.get("max_returns", 2)),
        mass_impact_people=int(raw.get("escalation", {}).get("mass_impact_people", 50)),
    )


def check_routing(table: RoutingTable, reference: Reference) -> list[str]:
    if table.command != COMMAND_QUEUE:  # the API, the board and the tokens know the queue by this name
        return [f"command must be {COMMAND_QUEUE!r} (the queue command staff read), not {table.command!r}"]
    departments = {d.code for d in reference.departments} | {table.command}
    categories = {c.code for c in reference.categories}
    districts = {d.code for d in reference.districts}
    problems = [f"unknown category {code!r}" for code in table.categories if code not in categories]
    problems += [f"unknown district {code!r}" for code in table.districts if code not in districts]
    lists = [*table.categories.items(), *(i for o in table.districts.values() for i in o.items())]
    for category, candidates in lists:
        if category not in categories:
            problems.append(f"unknown category {category!r}")
        problems += [f"{category}: unknown department {d!r}" for d in candidates if d not in departments]
        if len(set(candidates)) != len(candidates):
            problems.append(f"{category}: a department listed twice")
    if table.max_returns < 1:
        problems.append("max_returns must be at least 1")
    if table.mass_impact_people < 1:
        problems.append("mass_impact_people must be at least 1")
    return sorted(set(problems))
