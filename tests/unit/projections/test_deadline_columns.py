"""The board's accept_by / resolve_by are the deadlines the watcher escalates on: for the same events, after
every one of them, the projection's columns equal the watcher's open deadlines.

Deadline lengths are the packaged reference data's: P2 accept 1 h / resolve 24 h, P1 15 min / 4 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

import events.reference as reference_package
from events.complaint import (
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintEscalated,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
    DispatchReturned,
    ExtensionGranted,
    PriorityAssessed,
    ResolutionTimeAgreed,
)
from events.deadlines import WATCHER, fold_all
from events.reference import configure_reference, load_reference
from projections import read_models
from projections.ops import Derive

REF = load_reference()
CID = UUID("00000000-0000-4000-8000-0000000000d1")
T0 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
H, D = 60, 24 * 60  # minutes


def at(minutes: float | None) -> datetime | None:
    return None if minutes is None else T0 + timedelta(minutes=minutes)


def _event(kind: str, common: dict[str, Any], when: float, args: list[Any]) -> Any:
    if kind == "assessed":
        d = REF.deadlines(args[0])
        start = T0 + timedelta(minutes=when)
        return PriorityAssessed(**common, score=60, level=args[0], factors=[],
                                accept_by=start + d.accept_within, resolve_by=start + d.resolve_within)  # fmt: skip
    if kind == "dispatched":
        return ComplaintDispatched(**common, department=args[0], by="dispatch", reason="route")
    if kind == "accepted":
        return DispatchAccepted(**common, department=args[0])
    if kind == "returned":
        return DispatchReturned(**common, department=args[0], reason="not ours")
    if kind == "extended":
        return ExtensionGranted(**common, by="cmd", minutes=args[0], resolve_by=at(when))
    if kind == "agreed":
        return ResolutionTimeAgreed(**common, agreed_at=at(args[0]), approved_by_command=False)
    if kind == "recorded":
        return ComplaintEscalated(**common, level=1, reason=args[0], by=WATCHER)
    if kind == "resolved":
        return ComplaintResolved(
            **common, department="water", summary="s", outcome="handled", answer_ref=None
        )
    if kind == "reopened":
        return ComplaintReopened(**common, reason="unhappy", department="water")
    if kind == "closed":
        return ComplaintClosed(**common)
    raise AssertionError(kind)


def history(*steps: tuple[Any, ...]) -> list[Any]:
    """Events at minutes after T0, e.g. ("assessed", 0, "P2"), ("dispatched", 5, "water")."""
    events = []
    for version, (kind, when, *args) in enumerate(steps, start=2):
        common = {"originator_id": CID, "originator_version": version, "timestamp": at(when)}
        events.append(_event(kind, common, when, args))
    return events


def project(events: list[Any]) -> dict[str, Any]:
    """The complaint row's deadline columns after `events`, as the projection's ops derive them."""
    row: dict[str, Any] = {"deadline_state": None, "accept_by": None, "resolve_by": None}
    for event in events:
        for op in read_models.apply(event):
            if isinstance(op, Derive):
                assert op.key == ("complaints", CID)
                row.update(op.change(_Row(row), op.arg))
    return row


class _Row(dict[str, Any]):
    """The row as the runner hands it to a change: read-only to the change."""

    def __setitem__(self, key: str, value: Any) -> None:
        raise AssertionError("a change returns new values; it never edits the row")


ASSESSED = ("assessed", 0, "P2")
SIGNED = [ASSESSED, ("dispatched", 5, "water"), ("accepted", 20, "water")]
REOPENED = [*SIGNED, ("resolved", 300), ("reopened", 2 * D)]
MISSED = f"missed accept-by deadline {(T0 + timedelta(minutes=H)).isoformat()}"

# steps -> the open (accept_by, resolve_by) at the end, in minutes after T0 (None: no deadline open)
CASES = [
    pytest.param([ASSESSED], (H, None), id="assessed: the assessment's accept-by, no resolve clock yet"),
    pytest.param([ASSESSED, ("dispatched", 5, "water")], (H, None), id="first dispatch keeps the accept-by"),
    pytest.param(
        [ASSESSED, ("dispatched", 90, "water")], (90 + H, None), id="late first dispatch: own clock"
    ),
    pytest.param(SIGNED, (None, 20 + D), id="sign-for starts resolve from the accept"),
    pytest.param(
        [ASSESSED, ("dispatched", 5, "water"), ("returned", 30, "water"), ("dispatched", 45, "drainage")],
        (45 + H, None),
        id="re-dispatch after a return: the new department's accept-by",
    ),
    pytest.param(
        [ASSESSED, ("dispatched", 5, "water"), ("dispatched", 10, "drainage")],
        (10 + H, None),
        id="command re-dispatch: a new accept-by",
    ),
    pytest.param([*SIGNED, ("returned", 40, "water")], (None, None), id="returned after sign-for: nothing"),
    pytest.param([ASSESSED, ("agreed", 2, 3 * H), *SIGNED[1:]], (None, 3 * H), id="agreed before sign-for"),
    pytest.param([*SIGNED, ("agreed", 60, 6 * H)], (None, 6 * H), id="agreed after sign-for replaces it"),
    pytest.param([*SIGNED, ("extended", 100, 90)], (None, 20 + D + 90), id="extension moves resolve-by"),
    pytest.param([*SIGNED, ("resolved", 300)], (None, None), id="resolved: nothing open"),
    pytest.param(REOPENED, (None, 2 * D + D), id="reopen: a new resolve-by from the reopen"),
    pytest.param(
        [*REOPENED, ("dispatched", 2 * D + 10, "drainage")],
        (2 * D + 10 + H, None),
        id="reopen, re-dispatched",
    ),
    pytest.param([ASSESSED, ("assessed", 10, "P1")], (10 + 15, None), id="re-score to P1 tightens"),
    pytest.param([ASSESSED, ("assessed", 10, "P4")], (H, None), id="re-score down never loosens"),
    pytest.param(
        [ASSESSED, ("dispatched", 5, "water"), ("recorded", 70, MISSED), ("accepted", 80, "water")],
        (None, 80 + D),
        id="accepted late after the watcher recorded the miss",
    ),
    pytest.param([*SIGNED, ("closed", 400)], (None, None), id="closed: nothing open"),
    # Sent by hand before triage, signed for, then assessed: the board showed an accept-by (soon overdue) on a
    # case its department had signed for, and no resolve-by (the sign-for was lost from the row's state).
    pytest.param(
        [("dispatched", 5, "water"), ("accepted", 20, "water"), ("assessed", 30, "P2")],
        (None, 20 + D),
        id="dispatched by hand, signed for, then assessed: resolve from the accept",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), CASES)
def test_the_boards_deadlines_are_the_watchers_after_every_event(
    steps: list[tuple[Any, ...]], expected: tuple[float | None, float | None]
) -> None:
    events = history(*steps)
    for n in range(1, len(events) + 1):
        watcher = fold_all(CID, events[:n], REF)
        row = project(events[:n])
        assert (row["accept_by"], row["resolve_by"]) == (
            watcher.open_due("accept"),
            watcher.open_due("resolve"),
        )
    assert (row["accept_by"], row["resolve_by"]) == (at(expected[0]), at(expected[1]))


def test_an_event_folded_twice_changes_nothing() -> None:
    events = history(*SIGNED)
    assert project([*events, events[1]]) == project(events)


def test_an_unfoldable_event_leaves_the_row_as_it_was() -> None:
    [assessed] = history(ASSESSED)
    row = project([assessed])
    odd = PriorityAssessed(originator_id=CID, originator_version=3, timestamp=at(5), score=1, level="P9",
                           factors=[], accept_by=at(9), resolve_by=at(9))  # fmt: skip
    [derive] = [op for op in read_models.apply(odd) if isinstance(op, Derive)]
    values: Mapping[str, Any] = {**row, "id": CID}
    assert derive.change(values, derive.arg) == row


def test_a_deployments_own_deadline_lengths_are_the_boards_and_the_watchers(tmp_path: Path) -> None:
    packaged = (Path(reference_package.__file__).parent / "levee.toml").read_text(encoding="utf-8")
    path = tmp_path / "levee.toml"
    path.write_text(
        packaged.replace("[deadlines.P2]\naccept_within_minutes = 60\nresolve_within_minutes = 1440",
                         "[deadlines.P2]\naccept_within_minutes = 30\nresolve_within_minutes = 600"),
        encoding="utf-8",
    )  # fmt: skip
    events = history(ASSESSED, ("dispatched", 5, "water"), ("returned", 6, "water"), ("dispatched", 7, "water"),
                     ("accepted", 20, "water"))  # fmt: skip
    configure_reference(path)  # as `levee serve projector` does under LEVEE_REFERENCE
    try:
        row = project(events)
        watcher = fold_all(CID, events, load_reference(path))
    finally:
        configure_reference(None)
    assert row["resolve_by"] == watcher.open_due("resolve") == at(20 + 600)
    assert project(events[:4])["accept_by"] == at(7 + H)  # the packaged lengths again
