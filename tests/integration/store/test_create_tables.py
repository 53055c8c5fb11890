"""Several API processes starting on a fresh database create their tables at once (found by a review: two
replicas collided in PostgreSQL's catalogue every time, UniqueViolationError on pg_type, and the request that
started it answered 503)."""

from __future__ import annotations

import asyncio

import asyncpg

from events.store.keys import PersonalKeyStore
from services.api.idempotency import IdempotencyStore
from services.api.tokens import TokenStore


async def test_many_processes_create_the_same_tables_at_once_without_an_error(database_url: str) -> None:
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=1) for _ in range(6)]
    try:
        for round_ in range(3):  # each round on tables that do not exist yet
            creations = [
                creation
                for pool in pools
                for creation in (
                    PersonalKeyStore(pool).create_schema(),
                    IdempotencyStore(pool).create_schema(),
                    TokenStore(pool).ensure_schema(),
                )
            ]
            results = await asyncio.gather(*creations, return_exceptions=True)
            assert [r for r in results if isinstance(r, BaseException)] == [], round_
            await pools[0].execute(
                "DROP TABLE personal_data_keys, personal_data_fingerprint_secret, intake_idempotency, api_tokens"
            )
    finally:
        for pool in pools:
            await pool.close()
