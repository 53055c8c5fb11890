"""What a 503 says when PostgreSQL fails intake: a full disk or a connection limit is not "unreachable"."""

from __future__ import annotations

import asyncpg
import pytest

from services.api import keys
from services.api.keys import pg_trouble


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (asyncpg.DiskFullError("could not extend file"), "PostgreSQL has no disk space left (DiskFullError)"),
        (asyncpg.TooManyConnectionsError("sorry, too many clients already"),
         "PostgreSQL refuses more connections (TooManyConnectionsError)"),
        (asyncpg.OutOfMemoryError("out of memory"), "PostgreSQL is out of memory (OutOfMemoryError)"),
        (asyncpg.ConfigurationLimitExceededError("limit"),
         "PostgreSQL is short of resources (ConfigurationLimitExceededError)"),
        (TimeoutError(), "PostgreSQL did not answer within 5 s (TimeoutError)"),
        (ConnectionRefusedError(111, "refused"), "PostgreSQL is unreachable (ConnectionRefusedError)"),
        (asyncpg.CannotConnectNowError("the database system is starting up"),
         "PostgreSQL is unreachable (CannotConnectNowError)"),
    ],
)  # fmt: skip
def test_pg_trouble_names_what_is_wrong(exc: BaseException, says: str) -> None:
    assert pg_trouble(exc) == says


def test_the_stall_gate_answers_at_once_then_lets_one_request_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a statement PostgreSQL did not answer, intake answers at once for a while; then one request asks
    while the rest are still answered at once (found by a review: every request of the next seconds waited the
    timeout out again), and an answer opens the gate for all."""
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    gate = keys.StallGate(seconds=10.0)
    gate.check()  # open: asks
    gate.note(OSError("refused"))  # a refusal is quick anyway: stays open
    gate.check()
    gate.note(TimeoutError())
    with pytest.raises(keys.PgStalled, match="asked again in 10 s"):
        gate.check()
    now[0] += 10.5
    gate.check()  # the probe
    with pytest.raises(keys.PgStalled):
        gate.check()  # the others, while it asks
    gate.opened()
    gate.check()
    gate.check()
