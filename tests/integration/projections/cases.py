"""Complaints as the projection tests start them: received by the hotline, validated and assessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.complaint import Complaint


def assessed(
    description: str, *, level: str = "P2", score: int = 55, accept_in: timedelta = timedelta(hours=1),
    resolve_in: timedelta = timedelta(days=1), lat: float = 22.45, lon: float = 114.10,
) -> Complaint:  # fmt: skip
    """A flooding complaint, validated and assessed at `level` with deadlines that far from now."""
    case = Complaint.receive(
        channel="hotline",
        description=description,
        received_by="hotline",
        category="flooding",
        lat=lat,
        lon=lon,
    )
    case.validate()
    now = datetime.now(UTC)
    case.assess_priority(score, level, [], accept_by=now + accept_in, resolve_by=now + resolve_in)
    return case
