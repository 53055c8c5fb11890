"""Which escalations a complaint's deadline history calls for at a given moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from events.complaint import (
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
    ExtensionGranted,
    PriorityAssessed,
)
from services.dispatch.timeline import DeadlineState, escalations_due, fold, fold_all

CID = UUID("00000000-0000-4000-8000-00000000000a")
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
ACCEPT_BY = T0 + timedelta(minutes=60)
RESOLVE_BY = T0 + timedelta(hours=24)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def history(*steps: tuple[str, float] | tuple[str, float, Any]) -> list[Any]:
    """Events at minutes after T0: ("assessed", 0), ("accepted", 30), ("extended", 100, new_resolve_by)..."""
    events: list[Any] = []
    for version, step in enumerate(steps, start=2):
        kind, at = step[0], minutes(step[1])
        common: dict[str, Any] = {"originator_id": CID, "originator_version": version, "timestamp": at}
        if kind == "assessed":
            accept_by, resolve_by = step[2] if len(step) > 2 else (ACCEPT_BY, RESOLVE_BY)  # type: ignore[misc]
            events.append(PriorityAssessed(**common, score=60, level="P2", factors=[], accept_by=accept_by,
                                           resolve_by=resolve_by))  # fmt: skip
        elif kind == "accepted":
            events.append(DispatchAccepted(**common, department="water"))
        elif kind == "extended":
            events.append(ExtensionGranted(**common, by="cmd", minutes=60, resolve_by=step[2]))  # type: ignore[misc]
        elif kind == "escalated":
            events.append(ComplaintEscalated(**common, level=step[2], reason="r", by="w"))  # type: ignore[misc]
        elif kind == "resolved":
            events.append(ComplaintResolved(**common, department="water", summary="s", outcome="handled",
                                            answer_ref=None))  # fmt: skip
        elif kind == "reopened":
            events.append(ComplaintReopened(**common, reason="again", department="water"))
        elif kind == "closed":
            events.append(ComplaintClosed(**common))
    return events


H = 60  # minutes in an hour


@pytest.mark.parametrize(
    ("steps", "now_minutes", "levels"),
    [
        # nothing missed yet
        ([("assessed", 0)], 59, []),
        ([("assessed", 0)], 60, []),  # at the deadline is not past it
        # first miss: the accept deadline -> level 1
        ([("assessed", 0)], 61, [1]),
        # accepted in time: no miss until the resolve deadline
        ([("assessed", 0), ("accepted", 30)], 61, []),
        ([("assessed", 0), ("accepted", 30)], 24 * H + 1, [1]),
        # accepted late is still a missed accept deadline; with the resolve one missed too: 1 then 2
        ([("assessed", 0), ("accepted", 90)], 61, [1]),
        ([("assessed", 0), ("accepted", 90)], 24 * H + 1, [1, 2]),
        # the watcher already answered the first miss: only the second is due
        ([("assessed", 0), ("escalated", 61, 1)], 24 * H + 1, [2]),
        ([("assessed", 0), ("escalated", 61, 1)], 62, []),
        # escalated to command already (a P1, by staff): nothing more
        ([("assessed", 0), ("escalated", 1, 2)], 24 * H + 1, []),
        # an extension granted before the deadline moves it
        (
            [("assessed", 0), ("accepted", 10), ("extended", 23 * H, RESOLVE_BY + timedelta(hours=6))],
            25 * H,
            [],
        ),
        (
            [("assessed", 0), ("accepted", 10), ("extended", 23 * H, RESOLVE_BY + timedelta(hours=6))],
            30 * H + 1,
            [1],
        ),
        # an extension granted after the deadline passed does not undo that miss
        (
            [("assessed", 0), ("accepted", 10), ("extended", 25 * H, RESOLVE_BY + timedelta(hours=6))],
            25 * H,
            [1],
        ),
        (
            [
                ("assessed", 0),
                ("accepted", 10),
                ("escalated", 24 * H + 1, 1),
                ("extended", 25 * H, RESOLVE_BY + timedelta(hours=6)),
            ],
            30 * H + 1,
            [2],
        ),
        # resolved or closed: no escalation, even of a late resolution
        ([("assessed", 0), ("accepted", 10), ("resolved", 20)], 48 * H, []),
        ([("assessed", 0), ("accepted", 10), ("resolved", 25 * H)], 48 * H, []),
        ([("assessed", 0), ("closed", 20)], 48 * H, []),
        # a re-assessment replaces the deadlines it set before they passed
        ([("assessed", 0), ("assessed", 30, (minutes(45), minutes(4 * H)))], 50, [1]),
        ([("assessed", 0), ("assessed", 30, (minutes(120), minutes(4 * H)))], 100, []),
    ],
)
def test_escalations_due(steps: list[Any], now_minutes: float, levels: list[int]) -> None:
    state = fold_all(CID, history(*steps))
    assert [e.level for e in escalations_due(state, minutes(now_minutes))] == levels


def test_each_escalation_names_the_deadline_it_answers() -> None:
    state = fold_all(CID, history(("assessed", 0)))
    (escalation,) = escalations_due(state, minutes(61))
    assert "accept-by" in escalation.reason and ACCEPT_BY.isoformat() in escalation.reason


def test_fold_ignores_an_event_already_folded() -> None:
    events = history(("assessed", 0), ("accepted", 10))
    state = fold_all(CID, events)
    assert fold(state, events[0]) is state
    assert state.version == 3 and state.accepted


def test_next_due_is_the_earliest_open_deadline() -> None:
    assert fold_all(CID, history(("assessed", 0))).next_due() == ACCEPT_BY
    assert fold_all(CID, history(("assessed", 0), ("accepted", 1))).next_due() == RESOLVE_BY
    assert DeadlineState(CID).next_due() is None


def test_a_reopened_complaint_is_watched_again() -> None:
    state = fold_all(CID, history(("assessed", 0), ("accepted", 1), ("resolved", 2), ("reopened", 3)))
    assert not state.settled
