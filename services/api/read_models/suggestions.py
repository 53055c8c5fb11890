"""可能是同一事件 Possibly one event: active incidents that look like one event seen several times.

Triage groups reports of one category, so one burst main comes in as "Water outage", "Flooding" and "Road
blocked" in Newfield, and a substation failure as "Power outage" and "Medical access" in Old Town. Command can
merge them (POST /api/v1/incidents/{id}/merge) once it notices; this suggests which. A read-side hint only: it
decides nothing and stores nothing.

Pure: `suggest` takes each active incident's centroid (the mean position of its open complaints, one GROUP BY
in `queries.merge_suggestions`) and pairs them here; with ~100 active incidents that is ~5,000 distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from events.geo import distance_km, within_km


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
    considered: the incidents compared, those with the most open complaints: every pair is compared, on the
        API's event loop at each board (4,000 incidents held it 4 s; 400 take about 40 ms).
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


def _groups(centroids: list[Centroid], rules: SuggestionRules) -> list[list[Centroid]]:
    """Near pairs joined into chains (A~B and B~C is one group of three), by union-find over the pairs."""
    parent = list(range(len(centroids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(centroids):
        for j in range(i + 1, len(centroids)):
            if _near(a, centroids[j], rules):
                parent[root(j)] = root(i)
    members: dict[int, list[Centroid]] = {}
    for i, c in enumerate(centroids):
        members.setdefault(root(i), []).append(c)
    return [group for group in members.values() if len(group) > 1]


def _spread_km(group: list[Centroid]) -> float:
    """How far apart the group's centroids are at most: a chain can span more than `within_km`."""
    return max(distance_km(a.lat, a.lon, b.lat, b.lon) for n, a in enumerate(group) for b in group[n + 1 :])


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
