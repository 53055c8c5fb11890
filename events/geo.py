"""Distances on the served area's scale: one definition for triage's grouping and the board's suggestions."""

from __future__ import annotations

import math

EARTH_KM = 6371.0
KM_PER_DEGREE = EARTH_KM * math.pi / 180  # along a meridian


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance (haversine): good to metres at a city's scale."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return EARTH_KM * 2 * math.asin(math.sqrt(h))


def within_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float, km: float) -> bool:
    """At most `km` apart. Never nearer than the north-south separation alone: most far pairs are settled
    without the haversine."""
    if KM_PER_DEGREE * abs(a_lat - b_lat) > km:
        return False
    return distance_km(a_lat, a_lon, b_lat, b_lon) <= km
