"""PostgreSQL hung (every process stopped, its sockets open): the board, which reads inside a transaction, answers
503 within the reads' bound, and reads again once PostgreSQL moves.

Found by a review of this session's change: a lock (test_read_reports_and_board.py) leaves the server answering
the cancel, so its test passed, but with the server stopped the cancel, the transaction's ROLLBACK and the
connection's reset each waited on it: 500 after 63 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from projections.migrate import migrate
from services.api import auth, keys
from services.api.app import request_context
from services.api.problems import problems
from services.api.read_routes import reading
from services.embedded.postgres_server import PostgresServer
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_health_checks import children_of
from tests.support.waiting import wait_until_async

BOUND = 30.0  # seconds: far above the 2 s the reads get here, far below the 63 s they took


async def test_a_board_read_while_postgresql_is_hung_is_a_503_in_bounded_time(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres = await asyncio.to_thread(PostgresServer(tmp_path / "pg").start)
    stopped: list[int] = []
    try:
        conn = await asyncpg.connect(postgres.dsn)
        try:
            await migrate(conn)  # the read models the board reads
        finally:
            await conn.close()
        client = await make_client(database_url=postgres.dsn)
        token, _ = await client.app[auth.TOKENS].create("command", "Night duty commander")
        me = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/board", headers=me)).status == 200  # the token is known now
        monkeypatch.setattr(keys, "READ_SECONDS", 2.0)
        assert postgres.pid is not None
        stopped = [postgres.pid, *children_of(postgres.pid)]
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        async with asyncio.timeout(BOUND):
            board = await client.get("/api/v1/board", headers={**me, "Cache-Control": "no-cache"})
        assert board.status == 503, await board.text()
        problem = await board.json()
        assert problem["dependency"] == "PostgreSQL" and "did not answer within 2 s" in problem["detail"], (
            problem
        )
        assert time.monotonic() - started < BOUND
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    try:

        async def board_again() -> bool:
            return (await client.get("/api/v1/board", headers=me)).status == 200

        await wait_until_async(board_again, "the board once PostgreSQL moves again", BOUND)
    finally:
        await asyncio.to_thread(postgres.stop)


async def test_a_read_inside_a_transaction_when_postgresql_hangs_is_a_503_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board's case: its first read answered, then PostgreSQL hangs inside the board's transaction."""
    postgres = await asyncio.to_thread(PostgresServer(tmp_path / "pg").start)
    stopped: list[int] = []

    async def board_like(request: web.Request) -> web.Response:
        async with reading(request) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.fetchval("SELECT 1")  # inside the transaction, answered
            assert postgres.pid is not None
            stopped.extend([postgres.pid, *children_of(postgres.pid)])
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            await conn.fetchval("SELECT 2")
        return web.Response(text="read")

    monkeypatch.setattr(keys, "READ_SECONDS", 2.0)
    pool = await asyncpg.create_pool(postgres.dsn, min_size=0, max_size=2, command_timeout=60)  # as the API's
    app = web.Application(middlewares=[request_context, problems])  # as build_app answers a dependency down
    app[keys.PG_POOL] = pool
    app.router.add_get("/read", board_like)
    try:
        async with TestClient(TestServer(app)) as client:
            started = time.monotonic()
            async with asyncio.timeout(BOUND):
                answer = await client.get("/read")
            assert answer.status == 503, await answer.text()
            assert "PostgreSQL: did not answer within 2 s" in (await answer.json())["detail"]
            assert time.monotonic() - started < 10
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        await pool.close()
        await asyncio.to_thread(postgres.stop)
