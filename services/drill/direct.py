"""A drill's complaint as intake would record it, without the API: for benches and tests that feed the
workers straight from a scenario (`bench/surge.py`, the triage merge tests)."""

from __future__ import annotations

from typing import Any

from events.complaint import Complaint
from events.personal import contact_hash


def received(body: dict[str, Any], *, received_by: str, contact_secret: bytes) -> Complaint:
    """The complaint a drill body (the JSON of POST /api/v1/complaints) becomes: the reporter's phone is
    hashed as intake hashes it, so repeat callers are found; no personal data is sealed."""
    location, phone = body["location"], (body.get("reporter") or {}).get("phone")
    return Complaint.receive(
        channel=body["channel"], description=body["description"], received_by=received_by, lat=location["lat"],
        lon=location["lon"], district=location.get("district"), category=body.get("category"),
        people_affected=body["people_affected"], vulnerable=body.get("vulnerable"),
        contact_hash=contact_hash(phone, contact_secret) if phone else None,
    )  # fmt: skip
