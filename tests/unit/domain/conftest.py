"""Builders for complaints in a given state, shared by the domain tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from events.complaint import Complaint

INCIDENT_ID = UUID("00000000-0000-4000-8000-000000000001")
FACTORS = [{"name": "vulnerable", "weight": 0.3, "value": 1, "evidence": "elderly"}]


def received() -> Complaint:
    return Complaint.receive(
        channel="hotline",
        description="Water up to the knees in the ground floor flat; my mother is 82.",
        received_by="operator-chen",
        category="flooding",
        lat=22.45,
        lon=113.80,
        people_affected=2,
        vulnerable=["elderly"],
        reporter_sealed="c2VhbGVk",
        contact_hash="ab" * 32,
        call_started_at=datetime(2025, 9, 1, 8, 0, tzinfo=UTC),
    )


def assess(c: Complaint, level: str = "P2") -> None:
    now = datetime.now(UTC)
    c.assess_priority(70, level, FACTORS, now + timedelta(hours=1), now + timedelta(hours=24))


def _steps() -> dict[str, tuple[str | None, Callable[[Complaint], None]]]:
    """state -> (the state it is built from, what turns that into this state)."""
    return {
        "received": (None, lambda c: None),
        "validated": ("received", lambda c: c.validate()),
        "prioritised": ("validated", assess),
        "dispatched": (
            "prioritised",
            lambda c: c.dispatch("water", by="dispatch-rules", reason="category route"),
        ),
        "accepted": ("dispatched", lambda c: c.accept("water")),
        "returned": ("dispatched", lambda c: c.return_dispatch("water", "Flooding is drainage's remit")),
        "extension_pending": ("accepted", lambda c: c.request_extension("water", 120, "Pumps on the way")),
        "resolved": ("accepted", lambda c: c.resolve("water", "Pumped out and restored supply")),
        "followed_up": ("resolved", lambda c: c.record_follow_up(True, "satisfied", "Thanks")),
        "attempts_exhausted": (
            "resolved",
            lambda c: [c.attempt_follow_up(f"no answer {i}") for i in range(3)],
        ),
        "reopened": ("resolved", lambda c: c.reopen("Water is back in the flat")),
        "closed": ("followed_up", lambda c: c.close()),
        "rejected": ("received", lambda c: c.reject("Outside the served area")),
        "reinstated": ("rejected", lambda c: c.reinstate("Inside the area after all", by="cmd-wu")),
        "duplicate": ("received", lambda c: c.mark_duplicate(uuid4())),
        "linked": ("received", lambda c: c.link_to_incident(INCIDENT_ID)),
        "escalated": ("received", lambda c: c.escalate(2, "Major complaint", by="cmd-wu")),
        "redacted": ("received", lambda c: c.redact("Citizen asked to be forgotten")),
    }


def complaint_in(state: str) -> Complaint:
    """A complaint in ``state`` with no pending events, so a test sees only what its own command adds."""
    base, step = _steps()[state]
    c = received() if base is None else complaint_in(base)
    step(c)
    c.collect_events()
    return c


@pytest.fixture
def build() -> Callable[[str], Complaint]:
    return complaint_in
