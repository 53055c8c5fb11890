"""Which missed deadlines a complaint's history still needs recorded at a given moment, and at what level.

Deadline lengths are the packaged reference data's: P2 accept 1 h / resolve 24 h, P1 15 min / 4 h.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from events.complaint import (
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintEscalated,
    ComplaintReinstated,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
    DispatchReturned,
    ExtensionGranted,
    PriorityAssessed,
    ResolutionTimeAgreed,
)
from events.deadlines import WATCHER, DeadlineState, fold, fold_all
from events.reference import load_reference
from services.dispatch.timeline import escalations_due

REF = load_reference()
CID = UUID("00000000-0000-4000-8000-00000000000a")
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
H = 60  # minutes in an hour
D = 24 * H


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def reason(kind: str, due_minutes: float) -> str:
    return f"missed {kind}-by deadline {minutes(due_minutes).isoformat()}"


def assessed(level: str, at: float) -> dict[str, Any]:
    """What triage records: the level's deadlines from ``at``."""
    d = REF.deadlines(level)
    return {"score": 60, "level": level, "factors": [], "accept_by": minutes(at) + d.accept_within,
            "resolve_by": minutes(at) + d.resolve_within}  # fmt: skip


def history(*steps: tuple[Any, ...]) -> list[Any]:
    """Events at minutes after T0: ("assessed", 0), ("dispatched", 1), ("accepted", 30), ("extended", 100, 60)..."""
    events: list[Any] = []
    for version, (kind, at, *args) in enumerate(steps, start=2):
        common: dict[str, Any] = {
            "originator_id": CID,
            "originator_version": version,
            "timestamp": minutes(at),
        }
        events.append(_event(kind, common, at, args))
    return events


def _event(kind: str, common: dict[str, Any], at: float, args: list[Any]) -> Any:
    if kind == "assessed":
        return PriorityAssessed(**common, **assessed(args[0] if args else "P2", at))
    if kind == "dispatched":
        return ComplaintDispatched(**common, department="water", by="dispatch", reason="route")
    if kind == "accepted":
        return DispatchAccepted(**common, department="water")
    if kind == "returned":
        return DispatchReturned(**common, department="water", reason="not ours")
    if kind == "extended":
        return ExtensionGranted(
            **common, by="cmd", minutes=args[0], resolve_by=minutes(at)
        )  # resolve_by unused
    if kind == "agreed":
        return ResolutionTimeAgreed(**common, agreed_at=minutes(args[0]), approved_by_command=False)
    if kind == "escalated":  # by staff or dispatch (a major complaint): records no deadline
        return ComplaintEscalated(**common, level=args[0], reason="major complaint", by="dispatch")
    if kind == "recorded":  # the watcher's record of one missed deadline
        return ComplaintEscalated(**common, level=args[0], reason=args[1], by=WATCHER)
    if kind == "resolved":
        return ComplaintResolved(
            **common, department="water", summary="s", outcome="handled", answer_ref=None
        )
    if kind == "reopened":
        return ComplaintReopened(**common, reason="again", department="water")
    if kind == "closed":
        return ComplaintClosed(**common)
    if kind == "rejected":
        return ComplaintRejected(**common, reason="no clear facts", by="triage")
    if kind == "reinstated":
        return ComplaintReinstated(**common, reason="a real flood", by="cmd", category=None, district=None)
    raise AssertionError(kind)


def due(steps: list[Any], now_minutes: float) -> list[tuple[int, str]]:
    state = fold_all(CID, history(*steps), REF)
    return [(e.level, e.reason) for e in escalations_due(state, minutes(now_minutes))]


BASE = [("assessed", 0), ("dispatched", 0)]
# A P4 with 6 hours agreed with the caller, signed for at 20 h: its accept miss recorded, its own resolve time.
SIGNED_LATE = [
    ("assessed", 0, "P4"), ("dispatched", 0), ("agreed", 5, 6 * H),
    ("recorded", 6 * H + 1, 1, reason("accept", 6 * H)), ("accepted", 20 * H),
]  # fmt: skip
ACCEPT = reason("accept", 60)


@pytest.mark.parametrize(
    ("steps", "now_minutes", "expected"),
    [
        pytest.param(BASE, 60, [], id="at the deadline is not past it"),
        pytest.param(BASE, 61, [(1, ACCEPT)], id="first miss: accept-by, level 1"),
        pytest.param([*BASE, ("accepted", 30)], 61, [], id="accepted in time"),
        pytest.param([*BASE, ("accepted", 90)], 61, [(1, ACCEPT)], id="accepted late is still a miss"),
        # The resolve clock starts at sign-for: accepted at 90 min, due 24 h later.
        pytest.param([*BASE, ("accepted", 30)], D + 1, [], id="resolve counted from the accept, not before"),
        pytest.param(
            [*BASE, ("accepted", 30)], D + 31, [(1, reason("resolve", D + 30))], id="resolve missed: level 1"
        ),
        pytest.param(
            [*BASE, ("accepted", 90)],
            D + 91,
            [(1, ACCEPT), (2, reason("resolve", D + 90))],
            id="two misses: 1 then 2",
        ),
        pytest.param(
            [*BASE, ("recorded", 61, 1, ACCEPT), ("accepted", 90)],
            D + 91,
            [(2, reason("resolve", D + 90))],
            id="the recorded miss is not asked for again",
        ),
        pytest.param([*BASE, ("recorded", 61, 1, ACCEPT)], 62, [], id="recorded: nothing more yet"),
        # Item 2: a re-score just after a missed accept-by keeps that one deadline: one miss, level 1.
        pytest.param(
            [*BASE, ("assessed", 61, "P1")], 62, [(1, ACCEPT)], id="re-score after a miss: one miss"
        ),
        pytest.param(
            [*BASE, ("recorded", 61, 1, ACCEPT), ("assessed", 62, "P1")],
            63,
            [],
            id="re-score after a recorded miss: none",
        ),
        # A re-score before the deadline tightens it to now + the new level's accept window.
        pytest.param(
            [*BASE, ("assessed", 30, "P1")], 46, [(1, reason("accept", 45))], id="re-score tightens"
        ),
        pytest.param([*BASE, ("assessed", 30, "P1")], 45, [], id="tightened: not missed yet"),
        pytest.param(
            [("assessed", 0, "P3"), ("dispatched", 0), ("assessed", 230, "P2")],
            241,
            [(1, reason("accept", 240))],
            id="a raised level never gives more time",
        ),
        # Item 3: sent to command at once, then a missed accept-by is still recorded, at level 2.
        pytest.param([*BASE, ("escalated", 0, 2)], 61, [(2, ACCEPT)], id="at command: the miss at level 2"),
        pytest.param(
            [*BASE, ("escalated", 0, 2), ("recorded", 61, 2, ACCEPT)], D, [], id="at command: recorded once"
        ),
        pytest.param([*BASE, ("escalated", 0, 1)], 61, [(1, ACCEPT)], id="staff level 1: first miss level 1"),
        # Item 4: a return and a re-dispatch give the next department its own accept window.
        pytest.param(
            [*BASE, ("accepted", 10), ("returned", 100), ("dispatched", 100)],
            161,
            [(1, reason("accept", 160))],
            id="returned after accept: next department's accept-by",
        ),
        pytest.param(
            [*BASE, ("accepted", 10), ("returned", 100), ("dispatched", 100)],
            D + 20,
            [(1, reason("accept", 160))],
            id="returned: the old resolve clock stopped",
        ),
        pytest.param(
            [*BASE, ("returned", 30), ("dispatched", 30)], 89, [], id="returned before accept: a fresh window"
        ),
        pytest.param(
            [("assessed", 0), ("dispatched", 70)],
            71,
            [(1, ACCEPT)],
            id="first dispatch after the assessed accept-by: that miss",
        ),
        pytest.param(
            [("assessed", 0), ("dispatched", 70)],
            131,
            [(1, ACCEPT), (2, reason("accept", 130))],
            id="and its own",
        ),
        # The agreed time (约定期限) is the resolve-by, whether agreed before or after the sign-for.
        pytest.param(
            [*BASE, ("agreed", 5, 3 * H), ("accepted", 10)],
            3 * H + 1,
            [(1, reason("resolve", 3 * H))],
            id="agreed before accept",
        ),
        pytest.param([*BASE, ("accepted", 10), ("agreed", 20, 2 * D)], D + 11, [], id="agreed after accept"),
        pytest.param(
            [*BASE, ("accepted", 10), ("agreed", 20, 2 * D)],
            2 * D + 1,
            [(1, reason("resolve", 2 * D))],
            id="agreed missed",
        ),
        # An extension moves the open resolve-by by the minutes granted; granted late, the old miss stays.
        pytest.param(
            [*BASE, ("accepted", 10), ("extended", 23 * H, 360)], D + 11, [], id="extension in time"
        ),
        pytest.param(
            [*BASE, ("accepted", 10), ("extended", 23 * H, 360)],
            D + 6 * H + 11,
            [(1, reason("resolve", D + 6 * H + 10))],
            id="extended deadline missed",
        ),
        pytest.param(
            [*BASE, ("accepted", 10), ("extended", D + 20, 360)],
            D + 30,
            [(1, reason("resolve", D + 10))],
            id="extension after the miss",
        ),
        # Resolved or ended: nothing, even a late resolution.
        pytest.param([*BASE, ("accepted", 10), ("resolved", 20)], 2 * D, [], id="resolved"),
        pytest.param([*BASE, ("accepted", 10), ("resolved", D + 20)], 2 * D, [], id="resolved late: waived"),
        pytest.param([*BASE, ("closed", 20)], 2 * D, [], id="closed"),
        # A reopen opens a new resolve clock from the reopen; the waived miss stays waived.
        pytest.param(
            [*BASE, ("accepted", 90), ("resolved", 100), ("reopened", 200)],
            D + 201,
            [(1, reason("resolve", D + 200))],
            id="reopened: a new resolve-by",
        ),
        pytest.param(
            [*BASE, ("accepted", 90), ("resolved", 100), ("reopened", 200)],
            D + 199,
            [],
            id="reopened: in time",
        ),
        # Found by a review: a case command dispatched by hand before triage assessed it had no clock at all.
        pytest.param(
            [("dispatched", 0), ("assessed", 5)],
            66,
            [(1, reason("accept", 65))],
            id="assessed after a by-hand dispatch",
        ),
        pytest.param(
            [("dispatched", 0), ("accepted", 10), ("assessed", 30)],
            D + 11,
            [(1, reason("resolve", D + 10))],
            id="assessed after the accept: resolve counted from the accept",
        ),
        pytest.param(
            [("dispatched", 0), ("accepted", 10), ("assessed", 30)],
            D + 9,
            [],
            id="assessed after the accept: in time",
        ),
        pytest.param(
            [("dispatched", 0), ("accepted", 10), ("agreed", 20, 2 * H), ("assessed", 30)],
            2 * H + 1,
            [(1, reason("resolve", 2 * H))],
            id="accepted, a time agreed, then assessed: the agreed time",
        ),
        pytest.param(
            [("resolved", 0), ("reopened", 100), ("agreed", 105, 3 * H), ("assessed", 110)],
            3 * H + 1,
            [(1, reason("resolve", 3 * H))],
            id="reopened, a time agreed, then assessed: the agreed time",
        ),
        pytest.param(
            [("resolved", 0), ("reopened", 100), ("assessed", 110)],
            D + 101,
            [(1, reason("resolve", D + 100))],
            id="a first-contact answer reopened, then assessed: the resolver's resolve clock",
        ),
        pytest.param(
            [("resolved", 0), ("reopened", 100), ("assessed", 110)],
            D + 99,
            [],
            id="reopened, assessed: in time",
        ),
        # An extension granted after the miss counts from the grant: from the passed deadline it could be over.
        pytest.param(
            [*BASE, ("accepted", 10), ("extended", D + 20, 360)],
            D + 381,
            [(1, reason("resolve", D + 10)), (2, reason("resolve", D + 380))],
            id="extension after the miss: counted from the grant",
        ),
        pytest.param(
            [*BASE, ("accepted", 10), ("extended", D + 20, 360)],
            D + 379,
            [(1, reason("resolve", D + 10))],
            id="extension after the miss: in time",
        ),
        # A reopen starts a new round: the time agreed in the last one (days ago) is not the new resolve-by.
        pytest.param(
            [
                *BASE,
                ("agreed", 5, 3 * H),
                ("accepted", 10),
                ("resolved", 100),
                ("reopened", 3 * D),
                ("dispatched", 3 * D),
                ("accepted", 3 * D + 30),
            ],
            3 * D + 31,
            [],
            id="reopened: the old agreed time is gone",
        ),
        pytest.param(
            [
                *BASE,
                ("agreed", 5, 3 * H),
                ("accepted", 10),
                ("resolved", 100),
                ("reopened", 3 * D),
                ("dispatched", 3 * D),
                ("accepted", 3 * D + 30),
            ],
            4 * D + 31,
            [(1, reason("resolve", 4 * D + 30))],
            id="reopened: the new department's own resolve-by",
        ),
        # Found by a review: a time agreed with the caller bounds the sign-for too (a P4's day to sign for let
        # the caller's 6 hours pass unseen), and a time already passed is not the next department's clock.
        pytest.param(
            [*BASE, ("agreed", 5, 30)],
            31,
            [(1, reason("accept", 30))],
            id="agreed before the accept-by: sign for by then",
        ),
        pytest.param(
            [("assessed", 0, "P4"), ("dispatched", 0), ("agreed", 5, 6 * H)],
            6 * H + 1,
            [(1, reason("accept", 6 * H))],
            id="P4: nobody signed for it by the agreed time",
        ),
        pytest.param(
            SIGNED_LATE,
            20 * H + 5 * D - 1,
            [],
            id="signed for after the agreed time: the level's own resolve time",
        ),
        pytest.param(
            SIGNED_LATE,
            20 * H + 5 * D + 1,
            [(2, reason("resolve", 20 * H + 5 * D))],
            id="signed for after the agreed time: its own miss",
        ),
        pytest.param(
            [
                *BASE,
                ("agreed", 5, 3 * H),
                ("accepted", 10),
                ("recorded", 3 * H + 1, 1, reason("resolve", 3 * H)),
                ("returned", 4 * H),
                ("dispatched", 4 * H),
                ("accepted", 4 * H + 10),
            ],
            4 * H + 11,
            [],
            id="an agreed time missed is not the next department's at its sign-for",
        ),
        pytest.param(
            [*BASE, ("agreed", 5, 80), ("returned", 20), ("dispatched", 30)],
            81,
            [(1, reason("accept", 80))],
            id="re-dispatched before the agreed time: sign for by then",
        ),
        # Found reviewing this session's diff: a later agreed time puts back the accept-by an earlier one
        # brought forward; a case accepted by hand before triage with its agreed time passed gets its own time.
        pytest.param(
            [("assessed", 0, "P4"), ("dispatched", 0), ("agreed", 5, 6 * H), ("agreed", 20, 1000)],
            500,
            [],
            id="a later agreed time puts the accept-by back",
        ),
        pytest.param(
            [("assessed", 0, "P4"), ("dispatched", 0), ("agreed", 5, 6 * H), ("agreed", 20, 1000)],
            1001,
            [(1, reason("accept", 1000))],
            id="a later agreed time: missed at it",
        ),
        pytest.param(
            [("dispatched", 0), ("agreed", 5, 60), ("accepted", 120), ("assessed", 130, "P3")],
            121 + 3 * D,
            [(1, reason("resolve", 120 + 3 * D))],
            id="accepted by hand after the agreed time passed, then assessed: its own resolve time",
        ),
    ],
)
def test_escalations_due(steps: list[Any], now_minutes: float, expected: list[tuple[int, str]]) -> None:
    assert due(steps, now_minutes) == expected


def test_levels_never_exceed_command() -> None:
    steps = [*BASE, ("accepted", 90), ("returned", D + 100), ("dispatched", D + 100)]
    assert [level for level, _ in due(steps, 3 * D)] == [1, 2, 2]


def test_fold_ignores_an_event_already_folded() -> None:
    events = history(*BASE, ("accepted", 10))
    state = fold_all(CID, events, REF)
    assert fold(state, events[0], REF) is state
    assert state.version == 4 and state.open("resolve") is not None


def test_next_due_is_the_earliest_open_deadline() -> None:
    assert fold_all(CID, history(*BASE), REF).next_due() == minutes(60)
    assert fold_all(CID, history(*BASE, ("accepted", 1)), REF).next_due() == minutes(D + 1)
    assert DeadlineState(CID).next_due() is None


@pytest.mark.parametrize(
    ("steps", "watched"),
    [
        (BASE, True),
        ([*BASE, ("escalated", 0, 2)], True),  # at command, its deadlines are still watched
        ([*BASE, ("accepted", 90)], True),  # a late accept not yet recorded, and a resolve-by open
        ([*BASE, ("accepted", 1), ("resolved", 2)], False),
        ([*BASE, ("accepted", 1), ("resolved", 2), ("reopened", 3)], True),
        ([*BASE, ("closed", 2)], False),
    ],
)
def test_which_complaints_the_watcher_keeps(steps: list[Any], watched: bool) -> None:
    assert fold_all(CID, history(*steps), REF).watched is watched


@pytest.mark.parametrize("change", [30, -30], ids=["longer", "shorter"])
def test_a_recorded_miss_stays_recorded_when_the_deadline_lengths_change(change: int) -> None:
    """A deployment changes P2's resolve time after a miss was recorded: the fold recomputes the due time, so the
    recorded reason no longer names it. Found by a review: every overdue case went to command at the next start."""
    steps = [
        *BASE,
        ("accepted", 90),
        ("recorded", 91, 1, ACCEPT),
        ("recorded", D + 91, 2, reason("resolve", D + 90)),
    ]
    longer = dataclasses.replace(
        REF,
        levels=tuple(
            dataclasses.replace(level, resolve_within_minutes=level.resolve_within_minutes + change)
            if level.level == "P2" else level
            for level in REF.levels
        ),
    )  # fmt: skip
    assert due(steps, 2 * D) == []
    state = fold_all(CID, history(*steps), longer)
    assert escalations_due(state, minutes(2 * D)) == []
    assert state.misses_recorded == 2


def test_a_changed_deadline_length_never_records_a_deadline_met_in_time() -> None:
    """Accept A met in time, then returned and dispatched again: the recorded miss (under a 30-minute accept) is
    the second dispatch's accept B, not A; B must not be escalated again once the length is 60 minutes."""
    steps = [*BASE, ("accepted", 30), ("returned", 100), ("dispatched", 110),
             ("recorded", 141, 1, reason("accept", 140))]  # fmt: skip
    assert due(steps, 200) == []  # the packaged 60 minutes: B due 170, the record names 140
    state = fold_all(CID, history(*steps), REF)
    assert [d.recorded for d in state.deadlines if d.kind == "accept"] == [False, True]


def test_a_history_recorded_under_the_old_agreed_time_rule_escalates_nothing_twice_and_misses_nothing() -> (
    None
):
    """Before 2026-12-07 a sign-for after the agreed time opened a resolve clock already over, and the watcher
    recorded it. Folded with today's rules the miss is the sign-for's: recorded once, and the resolve time the
    sign-for now gets is escalated when it passes."""
    steps = [("assessed", 0, "P4"), ("dispatched", 0), ("agreed", 5, 6 * H), ("accepted", 10 * H),
             ("recorded", 10 * H + 1, 1, reason("resolve", 6 * H))]  # fmt: skip
    assert due(steps, 10 * H + 2) == []
    assert due(steps, 10 * H + 5 * D + 1) == [(2, reason("resolve", 10 * H + 5 * D))]


def test_a_rejection_command_overrules_gets_the_deadlines_of_its_assessment() -> None:
    """Rejected, a case is ended: nothing opens a deadline for it. Reinstated and then assessed (at 40 min), its
    accept-by runs from the assessment, and a miss of it is recorded as any other."""
    ended = fold_all(CID, history(("rejected", 0)), REF)
    assert ended.ended and not ended.watched
    steps = [("rejected", 0), ("reinstated", 30), ("assessed", 40), ("dispatched", 40)]
    state = fold_all(CID, history(*steps), REF)
    assert not state.ended and state.watched
    assert state.open_due("accept") == minutes(40 + 60)
    assert due(steps, 40 + 61) == [(1, reason("accept", 100))]
