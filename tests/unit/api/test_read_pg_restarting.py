"""A read while PostgreSQL restarts is a 503 with Retry-After, not a 500.

asyncpg raises "the database system is starting up" (or "shutting down") as an operator intervention, not a
connection error; the read path must treat it as PostgreSQL being unavailable. The pool below stands in only
for that moment (a real restart is the fault suite's job and too slow to aim at this window).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.api import keys
from services.api.read_routes import reading


class RestartingPool:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def acquire(self) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [asyncpg.CannotConnectNowError("the database system is starting up"),
     asyncpg.AdminShutdownError("terminating connection due to administrator command"),
     ConnectionRefusedError("connection refused")],
)  # fmt: skip
async def test_postgresql_starting_up_or_shutting_down_is_unavailable(error: Exception) -> None:
    app = web.Application()
    app[keys.PG_POOL] = RestartingPool(error)  # type: ignore[assignment]
    request = make_mocked_request("GET", "/api/v1/status/LV-222222", app=app)
    with pytest.raises(keys.DependencyUnavailable) as unavailable:
        async with reading(request):
            pass
    assert unavailable.value.dependency == "PostgreSQL"
