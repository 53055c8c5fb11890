"""What a 503 says when PostgreSQL fails intake: a full disk or a connection limit is not "unreachable"."""

from __future__ import annotations

import asyncpg
import pytest

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
