"""Fixtures for the read-model tests: a migrated PostgreSQL database and a runner over the test's stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from events.store import JetStreamEventStore
from projections.migrate import migrate
from projections.runner import ProjectionRunner

MakeRunner = Callable[..., Awaitable[ProjectionRunner]]


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def make_runner(store: JetStreamEventStore, database_url: str) -> AsyncIterator[MakeRunner]:
    """Runners on connections of their own (as separate processes would have), closed after the test."""
    opened: list[asyncpg.Connection] = []

    async def make(**options: object) -> ProjectionRunner:
        conn = await asyncpg.connect(database_url)
        opened.append(conn)
        runner = ProjectionRunner(store, conn, **options)  # type: ignore[arg-type]
        await runner.start()
        return runner

    try:
        yield make
    finally:
        for conn in opened:
            await conn.close()
