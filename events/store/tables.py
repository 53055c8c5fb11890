"""Creating the few tables the API keeps beside the read models (keys, tokens, idempotency claims)."""

from __future__ import annotations

import zlib

import asyncpg

# One lock for every such creation, whichever process and table: they take milliseconds, once per process.
_LOCK = zlib.crc32(b"levee-create-tables")


async def create_tables(conn: asyncpg.Connection, sql: str, *, timeout: float | None = None) -> None:
    """Run `sql` (CREATE TABLE IF NOT EXISTS ...) one process at a time. Two API replicas starting on a fresh
    database collided in PostgreSQL's catalogue (UniqueViolationError on pg_type_typname_nsp_index, 40 times in
    40 in a review), and the request that started it answered 503."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK, timeout=timeout)
        await conn.execute(sql, timeout=timeout)
