"""A revocation heard from another process also takes the token off the outage list.

test_postgres_stalled.py's revoked token is revoked by the same store (`revoke` forgets it directly), so the
listener's handling of another process's revocation is never seen during an outage.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from services.api.keys import PG_DOWN
from services.api.tokens import TokenStore
from tests.integration.api.test_postgres_stalled import locked
from tests.support.waiting import wait_until


async def test_a_token_revoked_elsewhere_is_not_let_in_while_postgresql_cannot_answer(
    database_url: str,
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    here, elsewhere = TokenStore(pool), TokenStore(pool)  # two API processes over one database
    watcher = asyncio.create_task(here.watch_revocations(database_url))
    try:
        await wait_until(lambda: here.listening, "the revocation listener")
        token, record = await elsewhere.create("department:water", "Water duty desk")
        assert await here.lookup(token) is not None  # confirmed here a moment ago
        heard = here._generation
        assert await elsewhere.revoke(record.token_id)  # `levee token revoke`, or another API process
        await wait_until(lambda: here._generation > heard, "the revocation to be heard")
        async with locked(database_url, "api_tokens"):
            here._not_heard()  # the listener's connection drops with the stalled database
            with pytest.raises(PG_DOWN):
                principal = await here.lookup(token)
                pytest.fail(f"a revoked token was let in during the outage as {principal}")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await pool.close()
