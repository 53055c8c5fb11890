"""/healthz's dependency checks against a real PostgreSQL: what they say is what is wrong."""

from __future__ import annotations

import asyncpg

from services.api.health import check_postgres


async def test_a_pool_whose_connections_are_all_held_says_busy_not_postgresql_down(database_url: str) -> None:
    """Slow board reads holding every connection made /healthz say "PostgreSQL unavailable", and the runbook
    sent the operator hunting a server that was fine (found by a review of what operators see)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await check_postgres(pool) == "ok"
        async with pool.acquire():
            said = await check_postgres(pool)
        assert said.startswith("busy: all 1 of this API's PostgreSQL connections are in use"), said
        assert await check_postgres(pool) == "ok"
    finally:
        await pool.close()
