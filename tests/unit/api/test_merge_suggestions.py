"""可能是同一事件 Possibly one event, the pure part: which active incidents' centroids pair up, how chains become
one suggestion, and in which order the suggestions and their incidents come."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from events.geo import distance_km
from services.api.read_models.suggestions import RULES, Centroid, SuggestionRules, suggest

AT = datetime(2026, 9, 14, 3, 0, tzinfo=UTC)
KM_LAT = 1 / 111.195  # one kilometre north, in degrees
KM_LAT_AT_EQUATOR = 111.195  # kilometres in a degree of latitude, or of longitude at the equator


def incident(n: int, north_km: float, *, open: int = 3, minutes: int = 0, kind: str = "flooding") -> Centroid:
    return Centroid(
        id=UUID(int=n), title=f"Incident {n}", kind=kind, declared_at=AT + timedelta(minutes=minutes),
        open=open, lat=22.775 + north_km * KM_LAT, lon=114.1375,
    )  # fmt: skip


def groups(found: list[dict]) -> list[list[int]]:
    return [[i["id"].int for i in s["incidents"]] for s in found]


def test_distance_is_great_circle_kilometres() -> None:
    assert distance_km(22.775, 114.1375, 22.775 + KM_LAT, 114.1375) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("centroids", "expected"),
    [
        ([incident(1, 0), incident(2, 0.4, kind="road_blocked")], [[1, 2]]),  # different kinds: suggested
        ([incident(1, 0), incident(2, 1.99)], [[1, 2]]),  # just within 2 km
        ([incident(1, 0), incident(2, 2.01)], []),  # just too far
        ([incident(1, 0), incident(2, 0.1, minutes=181)], []),  # the same street the next evening
        (
            [incident(1, 0), incident(2, 0.1, minutes=-179)],
            [[2, 1]],
        ),  # either order; as large: the earlier first
        ([incident(1, 0), incident(2, 1.5), incident(3, 3.0)], [[1, 2, 3]]),  # a chain: one suggestion
        ([incident(1, 0)], []),
        ([], []),
    ],
    ids=["kinds", "within", "far", "later", "earlier", "chain", "alone", "none"],
)
def test_near_incidents_are_suggested_and_chains_are_one_suggestion(
    centroids: list[Centroid], expected: list[list[int]]
) -> None:
    assert groups(suggest(centroids)) == expected


def test_a_chain_says_how_far_apart_its_ends_are() -> None:
    (chain,) = suggest([incident(1, 0), incident(2, 1.5), incident(3, 3.0)])
    assert chain["distance_km"] == 3.0
    assert "3 incidents" in chain["reason"] and "3.0 km" in chain["reason"]


def test_the_largest_incident_comes_first_and_the_earliest_on_a_tie() -> None:
    (found,) = suggest(
        [incident(1, 0, open=2), incident(2, 0.3, open=9), incident(3, 0.6, open=2, minutes=-5)]
    )
    assert groups([found]) == [[2, 3, 1]]
    assert found["incidents"][0] == {"id": UUID(int=2), "title": "Incident 2", "open": 9, "kind": "flooding"}


def test_closest_first_then_the_larger_and_no_more_than_the_limit() -> None:
    far_apart = [incident(10 * n, 50 * n) for n in range(1, 8)]  # seven places, 50 km apart
    kms = (1.5, 0.2, 0.2, 1, 1, 1, 1.9)
    pairs = [incident(10 * n + 1, 50 * n + km, open=10 + n) for n, km in zip(range(1, 8), kms, strict=True)]
    found = suggest(far_apart + pairs)
    assert len(found) == RULES.limit == 5
    assert [s["distance_km"] for s in found] == [0.2, 0.2, 1.0, 1.0, 1.0]
    assert [s["incidents"][0]["id"].int for s in found] == [31, 21, 61, 51, 41]  # bigger first when as close
    assert groups(suggest(far_apart + pairs, SuggestionRules(within_km=0.5, limit=10))) == [
        [31, 30],
        [21, 20],
    ]


def test_only_the_incidents_with_the_most_open_complaints_are_compared() -> None:
    """Every pair is compared on the API's event loop at each board: thousands of incidents held it seconds (found
    by a review of what grows with a surge). A pair of the busiest is still found; one of two one-case
    incidents below the cut is not."""
    busy = [incident(1, 0, open=50), incident(2, 0.5, open=40)]
    quiet = [incident(100 + n, 100 + 100 * n, open=5) for n in range(10)] + [
        incident(3, 300, open=1), incident(4, 300.2, open=1),
    ]  # fmt: skip
    found = suggest(busy + quiet, SuggestionRules(considered=12))
    assert groups(found) == [[1, 2]]


def everything_compared(centroids: list[Centroid], rules: SuggestionRules) -> list[tuple[list[int], float]]:
    """What the suggestions must be, the slow way: every pair compared, every pair of a group measured."""
    groups_of = {c.id.int: {c.id.int} for c in centroids}
    for n, a in enumerate(centroids):
        for b in centroids[n + 1 :]:
            near = (
                abs(a.declared_at - b.declared_at) <= rules.declared_within
                and distance_km(a.lat, a.lon, b.lat, b.lon) <= rules.within_km
            )
            if near and groups_of[a.id.int] is not groups_of[b.id.int]:
                joined = groups_of[a.id.int] | groups_of[b.id.int]
                for member in joined:
                    groups_of[member] = joined
    by_id = {c.id.int: c for c in centroids}
    out = []
    for group in {id(g): g for g in groups_of.values() if len(g) > 1}.values():
        spread = max(
            distance_km(by_id[a].lat, by_id[a].lon, by_id[b].lat, by_id[b].lon) for a in group for b in group
        )
        out.append((sorted(group), round(spread, 1)))
    return sorted(out)


@pytest.mark.parametrize("seed", range(40))
def test_suggestions_are_those_of_comparing_every_pair(seed: int) -> None:
    """The board compares only neighbours on a grid and measures a chain's spread at its outline's corners:
    the same suggestions as comparing and measuring everything, over random cities (one spot with many
    incidents, duplicates, a straight street, pairs near 2 km east-west, a city far north, one across the
    antimeridian)."""
    rng = random.Random(seed)
    lat0, lon0 = rng.choice(
        [(22.775, 114.1375), (-33.9, 151.2), (64.1, -21.9), (0.0, 179.99), (-60.0, -70.0)]
    )
    spread_deg = rng.choice([0.004, 0.02, 0.08, 0.3])
    centroids = []
    for n in range(rng.choice([2, 5, 40, 150])):
        shape = rng.random()
        if (
            shape < 0.05
        ):  # far from the rest, nearer the equator or a pole: the grid's cells are set by the highest
            lat, lon = rng.uniform(-75, 75), lon0 + rng.uniform(0, spread_deg)
        elif shape < 0.2:  # on one street running east
            lat, lon = lat0, lon0 + rng.uniform(0, spread_deg)
        elif shape < 0.3 and centroids:  # exactly where another is
            lat, lon = centroids[-1].lat, centroids[-1].lon
        else:
            lat, lon = lat0 + rng.uniform(0, spread_deg), lon0 + rng.uniform(0, spread_deg)
        centroids.append(
            Centroid(
                id=UUID(int=n + 1),
                title=f"Incident {n}",
                kind="flooding",
                open=rng.randrange(1, 30),
                declared_at=AT + timedelta(minutes=rng.randrange(0, 400)),
                lat=lat,
                lon=(lon + 180) % 360 - 180,  # a city on the antimeridian has both 179.99 and -179.99
            )
        )
    rules = SuggestionRules(limit=1000)
    found = sorted(
        (sorted(i["id"].int for i in s["incidents"]), s["distance_km"]) for s in suggest(centroids, rules)
    )
    assert found == everything_compared(centroids, rules)


@pytest.mark.parametrize("lat", [-89.9, -60.0, -22.5, 0.0, 22.775, 45.0, 64.1, 80.0, 89.9])
def test_pairs_either_side_of_the_distance_are_judged_as_comparing_every_pair(lat: float) -> None:
    """North-south and east-west pairs a hair inside and outside `within_km`, at latitudes from pole to pole, at
    several offsets along a parallel, with incidents far off nearer the equator (a grid sized by them, or by the
    mean latitude, would be too narrow east-west for the pairs)."""
    rules = SuggestionRules(limit=1000)
    east_per_km = 1 / (KM_LAT_AT_EQUATOR * max(math.cos(math.radians(lat)), 1e-6))
    far = Centroid(
        id=UUID(int=9000), title="far", kind="flooding", open=1, declared_at=AT, lat=lat / 10, lon=10
    )
    centroids = [replace(far, id=UUID(int=9000 + n), lon=10.0 + n) for n in range(6)]
    for n, km in enumerate((1.9999, 2.0001)):
        for k in range(7):
            base = 20.0 * (n + 1) + 1.3 * k + 0.01 * k * k  # each pair alone, at its own place in the grid
            for m, (dlat, dlon) in enumerate(((km / KM_LAT_AT_EQUATOR, 0.0), (0.0, km * east_per_km))):
                start = Centroid(id=UUID(int=1000 * n + 100 * k + 10 * m + 1), title="a", kind="flooding", open=1,
                                 declared_at=AT, lat=lat - 0.5 * dlat, lon=base + 0.5 * m)  # fmt: skip
                end = replace(
                    start, id=UUID(int=start.id.int + 1), lat=start.lat + dlat, lon=start.lon + dlon
                )
                centroids += [start, end]
    found = sorted(
        (sorted(i["id"].int for i in s["incidents"]), s["distance_km"]) for s in suggest(centroids, rules)
    )
    assert found == everything_compared(centroids, rules)
    assert found  # the pairs a hair inside are found
