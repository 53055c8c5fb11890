"""可能是同一事件 Possibly one event: active incidents that look like one event seen several times.

Triage groups reports of one category, so one burst main comes in as "Water outage", "Flooding" and "Road
blocked" in Newfield, and a substation failure as "Power outage" and "Medical access" in Old Town. Command can
merge them (POST /api/v1/incidents/{id}/merge) once it notices; this suggests which. A read-side hint only: it
decides nothing and stores nothing.

Pure: `suggest` takes each active incident's centroid (the mean position of its open complaints, one GROUP BY
in `queries.merge_suggestions`) and pairs those near each other here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from events.geo import EARTH_KM, KM_PER_DEGREE, distance_km, within_km


@dataclass(frozen=True)
class SuggestionRules:
    """Every threshold of the suggestion, in one place.

    within_km: two incidents are near when their centroids are at most this far apart. 2 km holds one burst
        main's or one substation's reports (their categories' incidents are each within a few hundred metres)
        while neighbouring districts' separate events are kilometres apart; district names are not compared,
        so an event on a district boundary is still found.
    declared_within: and were declared at most this long apart: one event's incidents are declared as its
        first reports of each kind come in, within the hour; a flood the next night in the same street is not it.
    limit: at most this many suggestions (the board shows each as one line above the incidents table).
    considered: the incidents compared, those with the most open complaints: they are compared on the API's
        event loop at each board (when every pair was, 4,000 incidents held it 4 s and 400 took 35 ms; now
        neighbours on a grid, the 400 busiest of the soak's 705 take 3 ms).
    """

    within_km: float = 2.0
    declared_within: timedelta = timedelta(hours=3)
    limit: int = 5
    considered: int = 400


RULES = SuggestionRules()


@dataclass(frozen=True)
class Centroid:
    """An active incident with located open complaints: where they are on average, and how many are open."""

    id: UUID
    title: str
    kind: str
    declared_at: datetime
    open: int
    lat: float
    lon: float


def _near(a: Centroid, b: Centroid, rules: SuggestionRules) -> bool:
    """`a` and `b` are near in place and time."""
    if abs(a.declared_at - b.declared_at) > rules.declared_within:
        return False
    return within_km(a.lat, a.lon, b.lat, b.lon, rules.within_km)


def _candidates(centroids: list[Centroid], km: float) -> Iterator[tuple[int, int]]:
    """Each pair (i < j) of centroids that may be at most `km` apart, once: those in the same or neighbouring
    cells of a grid whose cells are `km` north-south and, east-west, the most longitude two points `km` apart
    can differ by at the set's highest latitude (from the haversine). 400 incidents spread over a city make a
    few thousand pairs instead of 80,000 (the board's 35 ms on the event loop)."""
    if not centroids:
        return
    if km <= 0 or max(c.lon for c in centroids) - min(c.lon for c in centroids) > 180:  # or the antimeridian
        yield from ((i, j) for i in range(len(centroids)) for j in range(i + 1, len(centroids)))
        return
    # Points at most km apart: sin^2(dlat/2) + cos(lat1) cos(lat2) sin^2(dlon/2) <= sin^2(km / 2R).
    half = math.sin(km / (2 * EARTH_KM))
    coldest = math.cos(math.radians(max(abs(c.lat) for c in centroids)))
    lon_cell = math.degrees(2 * math.asin(half / coldest)) * 1.001 if coldest > half else 360.0
    lat_cell = km / KM_PER_DEGREE * 1.001
    cells: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(centroids):
        cells.setdefault((math.floor(c.lat / lat_cell), math.floor(c.lon / lon_cell)), []).append(i)
    for (y, x), members in cells.items():
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                for i in members:
                    for j in cells.get((y + dy, x + dx), ()):
                        if i < j:
                            yield i, j


def _groups(centroids: list[Centroid], rules: SuggestionRules) -> list[list[Centroid]]:
    """Near pairs joined into chains (A~B and B~C is one group of three), by union-find over the pairs."""
    parent = list(range(len(centroids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _candidates(centroids, rules.within_km):
        if _near(centroids[i], centroids[j], rules):
            parent[root(j)] = root(i)
    members: dict[int, list[Centroid]] = {}
    for i, c in enumerate(centroids):
        members.setdefault(root(i), []).append(c)
    return [group for group in members.values() if len(group) > 1]


def _spread_km(group: list[Centroid]) -> float:
    """How far apart the group's centroids are at most: a chain can span more than `within_km`. At a city's
    scale the farthest two are corners of the group's outline (its convex hull, on a map drawn to scale at its
    mean latitude), so only the corners are measured: a chain of 300 incidents has about 20, not 45,000 pairs.
    A group wider than a degree, or near a pole, is measured pair by pair (the map is not to scale there)."""
    lats, lons = [c.lat for c in group], [c.lon for c in group]
    city = max(lats) - min(lats) <= 1 and max(lons) - min(lons) <= 1 and max(map(abs, lats)) <= 80
    corners = _hull(group) if city else group
    return max(
        distance_km(a.lat, a.lon, b.lat, b.lon) for n, a in enumerate(corners) for b in corners[n + 1 :]
    )


def _hull(group: list[Centroid]) -> list[Centroid]:
    """The corners of the convex hull of `group` (monotone chain), with longitude scaled by the cosine of the
    mean latitude so a kilometre is the same length both ways; every centroid when there are three or fewer."""
    if len(group) <= 3:
        return group
    scale = math.cos(math.radians(sum(c.lat for c in group) / len(group)))
    points = sorted(group, key=lambda c: (c.lon * scale, c.lat))

    def turn(o: Centroid, a: Centroid, b: Centroid) -> float:
        return (a.lon - o.lon) * scale * (b.lat - o.lat) - (a.lat - o.lat) * (b.lon - o.lon) * scale

    def chain(ordered: list[Centroid]) -> list[Centroid]:
        out: list[Centroid] = []
        for c in ordered:
            while len(out) >= 2 and turn(out[-2], out[-1], c) <= 0:
                out.pop()
            out.append(c)
        return out[:-1]

    corners = chain(points) + chain(points[::-1])
    return corners if len(corners) >= 2 else points[:1] + points[-1:]


def _reason(group: list[Centroid], km: float) -> str:
    declared = max(c.declared_at for c in group) - min(c.declared_at for c in group)
    minutes = int(declared.total_seconds() // 60)
    return (
        f"{len(group)} 个事件的未结工单中心相距不超过 {km:.1f} 公里，宣布时间相差 {minutes} 分钟 "
        f"the open complaints of {len(group)} incidents centre at most {km:.1f} km apart; "
        f"declared {minutes} min apart"
    )


def suggest(centroids: list[Centroid], rules: SuggestionRules = RULES) -> list[dict[str, Any]]:
    """[{incidents: [{id, title, open, kind}], distance_km, reason}], at most `rules.limit`.

    Each suggestion's incidents come largest first (most open complaints, then the earliest declared): the one
    the others would be merged into. Closest first (`distance_km`, the greatest distance between two of its
    centroids, to 0.1 km), and among equally close the larger (more open complaints in all) first."""
    found: list[dict[str, Any]] = []
    if len(centroids) > rules.considered:
        centroids = sorted(centroids, key=lambda c: (-c.open, c.declared_at, str(c.id)))[: rules.considered]
    for group in _groups(centroids, rules):
        group.sort(key=lambda c: (-c.open, c.declared_at, str(c.id)))
        km = round(_spread_km(group), 1)
        found.append({
            "incidents": [{"id": c.id, "title": c.title, "open": c.open, "kind": c.kind} for c in group],
            "distance_km": km,
            "reason": _reason(group, km),
        })  # fmt: skip
    found.sort(
        key=lambda s: (
            s["distance_km"],
            -sum(i["open"] for i in s["incidents"]),
            str(s["incidents"][0]["id"]),
        )
    )
    return found[: rules.limit]
