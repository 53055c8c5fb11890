"""Intake's bound: the public is refused with 503 and Retry-After once it is full, staff never are."""

from __future__ import annotations

import pytest

from services.api.intake_gate import LONGEST_WAIT, IntakeGate
from services.api.principal import PUBLIC, Principal
from services.api.problems import Problem

DESK = Principal(role="operator", name="Hotline desk 3", token_id="tok_desk3")


def test_the_public_is_refused_once_the_bound_is_reached_and_admitted_when_a_place_frees() -> None:
    gate = IntakeGate(max_in_flight=2)
    with gate.admitted(PUBLIC), gate.admitted(PUBLIC):
        assert gate.in_flight == 2
        with pytest.raises(Problem) as refused, gate.admitted(PUBLIC):
            pass
        assert refused.value.status == 503 and refused.value.code == "intake_saturated"
        assert int(refused.value.headers["Retry-After"]) >= 1
        assert "was not stored" in refused.value.detail
        assert gate.in_flight == 2, "a refusal holds no place"
    assert gate.in_flight == 0
    with gate.admitted(PUBLIC):
        assert gate.in_flight == 1


def test_staff_are_counted_but_never_refused() -> None:
    gate = IntakeGate(max_in_flight=1)
    with gate.admitted(DESK), gate.admitted(DESK), gate.admitted(DESK):
        assert gate.in_flight == 3
        with pytest.raises(Problem), gate.admitted(PUBLIC):
            pass
    assert gate.in_flight == 0


def test_a_store_that_fails_gives_its_place_back() -> None:
    gate = IntakeGate(max_in_flight=1)
    with pytest.raises(RuntimeError), gate.admitted(PUBLIC):
        raise RuntimeError("NATS went away")
    with gate.admitted(PUBLIC):
        assert gate.in_flight == 1


@pytest.mark.parametrize(
    ("store_seconds", "retry_after"), [(0.0, 1), (0.02, 1), (1.2, 2), (7.0, 7), (600.0, LONGEST_WAIT)]
)
def test_retry_after_is_about_one_store_and_bounded(store_seconds: float, retry_after: int) -> None:
    gate = IntakeGate(max_in_flight=1)
    gate.store_seconds = store_seconds
    assert gate.retry_after() == retry_after


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IntakeGate(max_in_flight=0)
