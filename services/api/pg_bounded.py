"""A pooled PostgreSQL connection for work that must end by a deadline, whatever the server does.

Against a hung server (alive, answering nothing) every polite step waits on it again: cancelling the statement,
rolling back a transaction, the pool's reset of a returned connection. /healthz once answered after 61 s and a
board read after 63 s with a 500 (found by reviews). Here the connection is closed under the work at the
deadline, and what fails after it fails as a TimeoutError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

AFTER_CLOSE = (
    1.0  # seconds past the deadline: what waits on the connection fails at once; this bounds the rest
)


class NoConnection(TimeoutError):
    """No connection of the pool by the deadline: all busy, or PostgreSQL not answering a new one."""


@asynccontextmanager
async def connection_until(pool: asyncpg.Pool, deadline: float) -> AsyncIterator[asyncpg.Connection]:
    """A connection of `pool` for work that ends by `deadline` (the loop's time): acquired by then (else
    NoConnection), closed under the work when it passes (the work then raises TimeoutError)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            conn = await pool.acquire()
    except TimeoutError as exc:
        raise NoConnection from exc
    closing = loop.call_at(deadline, conn.terminate)
    try:
        async with asyncio.timeout_at(deadline + AFTER_CLOSE):
            yield conn
    except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError) as exc:
        if loop.time() >= deadline:  # the close at the deadline, seen by the work as a lost connection
            raise TimeoutError("no answer by the deadline") from exc
        raise
    finally:
        # Handed back within the deadline too (the pool resets it first): a reset the server does not answer is
        # cut by the close, and the pool drops a closed connection. The work's own outcome stands.
        with contextlib.suppress(Exception):
            await pool.release(conn, timeout=max(deadline + AFTER_CLOSE - loop.time(), 0.1))
        closing.cancel()
