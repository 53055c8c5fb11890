"""/healthz's dependency checks against a real PostgreSQL: what they say is what is wrong."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg

from services.api.health import check_postgres, read_models_position
from services.embedded.postgres_server import PostgresServer


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


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def test_a_hung_postgresql_is_reported_within_seconds_not_after_the_statement_timeout(
    tmp_path: Path,
) -> None:
    """A frozen PostgreSQL (SIGSTOP: a stalled disk, a hung host) kept /healthz waiting 61 s: the timed-out
    check's connection went back to the pool, which waited to reset it for the read pool's 60 s statement
    timeout (found by a review of the pages in outages). Its own server here, frozen whole."""
    server = PostgresServer(tmp_path / "pg").start()
    pool = await asyncpg.create_pool(server.dsn, min_size=1, max_size=2, command_timeout=60.0)
    try:
        assert await check_postgres(pool) == "ok"
        assert server.pid is not None
        frozen = [server.pid, *children_of(server.pid)]  # backends are sessions of their own (setsid)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            said = await asyncio.wait_for(check_postgres(pool), 30)
            took = time.monotonic() - started
            assert said.startswith("unavailable") and took < 10, (said, took)
            assert await asyncio.wait_for(read_models_position(pool), 30) is None
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        assert await check_postgres(pool) == "ok"  # and it recovers once PostgreSQL moves again
    finally:
        await pool.close()
        server.stop()
