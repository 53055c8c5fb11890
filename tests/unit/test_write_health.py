"""WriteHealth: what /healthz says about the stream taking writes, from the last appends' outcomes."""

from __future__ import annotations

import pytest

from events.store.write_health import NO_STORAGE, REPORT_SECONDS, UNCONFIRMED, WriteHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_refusal_is_reported_until_a_write_started_after_it_succeeds() -> None:
    clock = Clock()
    counted: list[str] = []
    health = WriteHealth(on_refused=counted.append, clock=clock)
    assert health.problem() is None
    health.stored(health.now())
    clock.now += 1
    health.refused(NO_STORAGE, "JetStream has no storage left", health.now())
    problem = health.problem()
    assert problem is not None
    assert "no_storage: JetStream has no storage left" in problem
    clock.now += 1
    health.stored(health.now())
    assert health.problem() is None
    assert counted == [NO_STORAGE]


def test_outcomes_are_ordered_by_when_their_append_started() -> None:
    clock = Clock()
    health = WriteHealth(clock=clock)
    slow = health.now()  # an append that will wait out its timeout
    clock.now += 1
    health.refused(NO_STORAGE, "full", health.now())  # one that began later, answered at once
    clock.now += 5
    health.refused(UNCONFIRMED, "not in the stream", slow)  # the slow one ends last: older news
    problem = health.problem()
    assert problem is not None and "no_storage: full" in problem
    health.stored(slow)  # a success that began before the refusal does not clear it
    assert health.problem() is not None


def test_an_old_refusal_with_nothing_written_since_is_no_longer_reported() -> None:
    clock = Clock()
    health = WriteHealth(clock=clock)
    health.refused(UNCONFIRMED, "not in the stream", health.now())
    clock.now += REPORT_SECONDS - 1
    assert health.problem() is not None
    clock.now += 2
    assert health.problem() is None


def test_an_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown refusal reason"):
        WriteHealth().refused("disk_on_fire", "?", 0.0)
