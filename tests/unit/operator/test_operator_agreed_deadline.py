"""Dispatch holds a case to the resolution time agreed with the caller (约定期限) once one is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from events.complaint import DispatchAccepted, PriorityAssessed, ResolutionTimeAgreed
from events.deadlines import fold_all
from services.dispatch.timeline import escalations_due

CID = UUID("00000000-0000-4000-8000-0000000000ab")
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


def _events(agreed_at: datetime) -> list[object]:
    common = {"originator_id": CID}
    return [
        PriorityAssessed(
            **common,
            originator_version=2,
            timestamp=T0,
            score=60,
            level="P2",
            factors=[],
            accept_by=T0 + timedelta(hours=1),
            resolve_by=T0 + timedelta(hours=24),
        ),
        DispatchAccepted(
            **common, originator_version=3, timestamp=T0 + timedelta(minutes=10), department="water"
        ),
        ResolutionTimeAgreed(
            **common,
            originator_version=4,
            timestamp=T0 + timedelta(minutes=20),
            agreed_at=agreed_at,
            approved_by_command=False,
        ),
    ]


def test_an_agreed_time_earlier_than_resolve_by_is_the_deadline_dispatch_watches() -> None:
    state = fold_all(CID, _events(T0 + timedelta(hours=6)))
    assert state.next_due() == T0 + timedelta(hours=6)
    assert escalations_due(state, T0 + timedelta(hours=5)) == []
    [escalation] = escalations_due(state, T0 + timedelta(hours=7))
    assert escalation.level == 1


def test_an_approved_later_time_replaces_the_resolve_by() -> None:
    state = fold_all(CID, _events(T0 + timedelta(hours=30)))
    assert state.next_due() == T0 + timedelta(hours=30)
    assert escalations_due(state, T0 + timedelta(hours=25)) == []
