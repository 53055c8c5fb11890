"""One PostgreSQL LISTEN, kept open for the life of the process: reconnected with backoff when it drops.

asyncpg notices a silently dead server only when it next talks to it, so an idle listening connection is
probed every few seconds. Whoever listens learns when it starts hearing (`on_heard`: anything missed before
must be caught up now) and when it stops (`on_lost`: whatever relied on hearing must stop relying on it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from services.api.keys import PG_DOWN

log = structlog.get_logger(__name__)

PROBE_EVERY = 5.0  # seconds between probes of an idle listening connection
RECONNECT_MAX = 5.0  # seconds: the longest wait between two connection attempts

Notify = Callable[[Any, int, str, str], None]  # asyncpg's listener: (connection, pid, channel, payload)


async def listen_forever(
    database_url: str,
    channel: str,
    on_notify: Notify,
    *,
    application_name: str,
    on_heard: Callable[[asyncpg.Connection], Awaitable[None]],
    on_lost: Callable[[], None],
) -> None:
    """Run until cancelled. `on_heard` may raise a PostgreSQL error: the connection is then tried again."""
    bound = log.bind(channel=channel, application_name=application_name)
    delay = 0.25
    while True:
        try:
            conn = await asyncpg.connect(
                database_url, timeout=5.0, server_settings={"application_name": application_name}
            )
        except PG_DOWN as exc:
            bound.warning("listen_unavailable", error=f"{type(exc).__name__}: {exc}", retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)
            continue
        delay = 0.25
        try:
            await _listen(conn, channel, on_notify, on_heard, bound)
        finally:
            on_lost()
            await _close(conn)
        await asyncio.sleep(delay)  # not a tight loop when the server takes connections but fails them


async def _listen(
    conn: asyncpg.Connection,
    channel: str,
    on_notify: Notify,
    on_heard: Callable[[asyncpg.Connection], Awaitable[None]],
    bound: Any,
) -> None:
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    try:
        await conn.add_listener(channel, on_notify)
        await on_heard(conn)
    except PG_DOWN as exc:
        bound.warning("listen_failed", error=f"{type(exc).__name__}: {exc}")
        return
    bound.info("listening")
    while not lost.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lost.wait(), PROBE_EVERY)
        if lost.is_set():
            break
        try:
            await asyncio.wait_for(conn.execute("SELECT 1"), PROBE_EVERY)
        except PG_DOWN:
            break
    bound.warning("listen_lost")


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except PG_DOWN:
        conn.terminate()
