"""Intake's bound on complaints being stored at once: past it, the public hears 503 and when to come back.

In a surge beyond what the machine can store, every new complaint would otherwise queue behind all the
others: the wait grows without bound, clients time out not knowing whether they were heard, and retry into
a longer queue. With the bound, a complaint that is admitted is stored within about the time the ones
before it took, and one that is not gets an immediate `503` with `Retry-After`, having changed nothing (an
app resends it with the same Idempotency-Key).

Staff tokens (a hotline desk, an Open311 bridge on a staff token) are counted but never turned away: the
call in progress must be recorded, and the desks bound how many they send. Each API process has its own
gate (LEVEE_INTAKE_MAX_IN_FLIGHT); `levee_intake_in_flight` and `levee_intake_saturated` show it working.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge

from services.api.principal import Principal
from services.api.problems import Problem

IN_FLIGHT = Gauge("levee_intake_in_flight", "Complaints this API process is storing right now")
SATURATED = Counter(
    "levee_intake_saturated", "Complaints refused with 503 because intake was at its bound (nothing stored)"
)
LONGEST_WAIT = 30  # seconds: the most Retry-After ever says
_SMOOTHING = 0.05  # weight of the latest store's duration in the moving average


class IntakeGate:
    """Counts the complaints being stored; refuses a public one once `max_in_flight` are."""

    def __init__(self, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.store_seconds = 0.0  # moving average of how long one complaint took to store

    @contextmanager
    def admitted(self, principal: Principal) -> Iterator[None]:
        """Hold one place while the body stores a complaint, or raise the 503 Problem when full."""
        if self.in_flight >= self.max_in_flight and principal.token_id is None:
            SATURATED.inc()
            wait = self.retry_after()
            raise Problem(
                503, "Intake is saturated",
                f"{self.in_flight} complaints are being stored; this one was not stored. "
                f"Send it again in {wait} s (with the same Idempotency-Key, if it had one).",
                code="intake_saturated", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        self.in_flight += 1
        IN_FLIGHT.inc()
        started = time.monotonic()
        try:
            yield
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()
            self.store_seconds += (time.monotonic() - started - self.store_seconds) * _SMOOTHING

    def retry_after(self) -> int:
        """Whole seconds until places are likely free: about one store's time while the gate is full."""
        return min(LONGEST_WAIT, max(1, math.ceil(self.store_seconds)))
