"""PostgreSQL answers nothing (a statement waits on a lock, as it would on a stalled disk): intake says 503 in
bounded time instead of holding every complaint with a reporter, and carries on once PostgreSQL moves."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_intake import GOOD, URL

BOUND = 30.0  # seconds: far above intake's statement timeout, far below "for ever"


async def test_a_stalled_postgresql_is_a_503_in_bounded_time_and_nothing_is_stored(
    make_client: MakeClient, database_url: str
) -> None:
    client = await make_client()
    first = await client.post(URL, json=GOOD)  # creates intake's tables
    assert first.status == 201, await first.text()
    holder = await asyncpg.connect(database_url)
    try:
        stall = holder.transaction()
        await stall.start()
        await holder.execute("LOCK TABLE personal_data_keys IN ACCESS EXCLUSIVE MODE")
        async with asyncio.timeout(BOUND):
            response = await client.post(URL, json=GOOD)
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"].isdigit()
        problem = await response.json()
        assert "PostgreSQL did not answer within" in problem["detail"], problem
        await stall.rollback()
        again = await client.post(URL, json=GOOD)
        assert again.status == 201, await again.text()
    finally:
        await holder.close()
