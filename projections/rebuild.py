"""`levee rebuild PROJECTION`: replay the whole stream into fresh tables, then swap them in at once.

The replay goes into a new schema (`rebuild_<n>`) while the board keeps reading the live one. Tables are
loaded before their indexes are built. The swap is one transaction: it locks the live tracking row (so a
running projector's batch finishes first and its next one waits), applies the last few events, renames the
live schema away and the new one in, and drops the old. Readers see the old tables or the new, never a mix;
the projector notices its stored position moved and carries on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import structlog

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec
from projections import read_models
from projections.migrate import LIVE_SCHEMA, migrate, quote_ident
from projections.runner import CHANNEL, ProjectionRunner

log = structlog.get_logger(__name__)

PROJECTIONS = {read_models.NAME: read_models.apply}
ALIASES = {"all": read_models.NAME}
# Migrations that create tables or add columns: applied before loading. The rest (indexes, views) after.
TABLE_MIGRATIONS = frozenset(
    {"001_read_models", "003_operator", "005_public_text", "006_dead_letters", "007_deadline_state"}
    | {"008_dead_letter_retries"}
    | {"010_responsible"}
    | {"011_incident_merges"}
    | {"013_with_command_since"}  # its back-fill finds no rows there; the replay sets the columns
    | {"014_rejection_reason"}
    | {"016_who_sent_to_command"}  # as 013
    | {"017_notice_drafted_by"}  # as 013
    | {"018_follow_up_answers"}  # as 013
)
# Events per transaction while replaying: the live runner's batches are smaller, for latency.
BATCH = 5000
CONNECT_SECONDS = 10.0


async def rebuild(settings: Any, name: str, progress: Callable[[str], None]) -> None:
    """The CLI's entry: `levee rebuild read_models` (or `all`). Progress lines go to `progress`."""
    if not settings.nats_url or not settings.database_url:
        raise ValueError("levee rebuild needs NATS_URL and DATABASE_URL")
    async with AsyncExitStack() as stack:
        try:  # a client reconnects for ever; a command run by hand says NATS is not there and stops
            async with asyncio.timeout(CONNECT_SECONDS):
                nc = await connect_nats(settings.nats_url, name="levee-rebuild")
        except TimeoutError:
            raise ConnectionError(f"NATS did not answer within {CONNECT_SECONDS:g} s") from None
        stack.push_async_callback(nc.close)
        conn = await asyncpg.connect(settings.database_url, timeout=CONNECT_SECONDS)
        stack.push_async_callback(conn.close)
        store = JetStreamEventStore(nc, StreamSpec(name=settings.nats_stream))
        await rebuild_schema(store, conn, name=name, progress=progress)


async def rebuild_schema(
    store: JetStreamEventStore,
    conn: asyncpg.Connection,
    *,
    name: str = read_models.NAME,
    progress: Callable[[str], None] | None = None,
    live_schema: str = LIVE_SCHEMA,
    swap: bool = True,
) -> str:
    """Replay into a new schema and (with `swap`) make it the live one. Returns the schema the rows are in."""
    name = ALIASES.get(name, name)
    if name not in PROJECTIONS:
        raise ValueError(f"no projection {name!r}; one of {', '.join([*PROJECTIONS, *ALIASES])}")
    target = f"rebuild_{time.time_ns()}"
    await migrate(conn, target, only=TABLE_MIGRATIONS)
    runner = ProjectionRunner(
        store, conn, name=name, schema=target, apply=PROJECTIONS[name], batch_size=BATCH, notify=False
    )
    await runner.start()
    meter = _Meter(name, await store.count_after(0), progress)
    log.info("rebuild_started", projection=name, schema=target, events=meter.total)
    # No waiting for each batch's commit to reach the disk: a rebuild that dies is started again from zero
    # in a new schema, so its last commits are never needed after a crash. The swap below commits durably.
    await conn.execute("SET synchronous_commit TO off")
    try:
        with _collecting_less():
            await runner.catch_up(progress=meter.batch)
    finally:
        await conn.execute("RESET synchronous_commit")
    await migrate(conn, target)
    if not swap:
        meter.finish()
        return target
    await _swap(conn, runner, target, live_schema, meter)
    meter.finish()
    log.info("rebuild_swapped", projection=name, position=runner.position, events=meter.done)
    return live_schema


async def _swap(
    conn: asyncpg.Connection, runner: ProjectionRunner, target: str, live: str, meter: _Meter
) -> None:
    retired = f"retired_{time.time_ns()}"
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", zlib.crc32(f"levee-swap:{live}".encode()))
        exists = await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{quote_ident(live)}.projection_tracking"
        )
        if exists:
            # Waits for a running projector's open batch; its next batch waits for us.
            await conn.execute(f"LOCK TABLE {quote_ident(live)}.projection_tracking IN ACCESS EXCLUSIVE MODE")
        # The events that arrived during the replay (savepoints inside this transaction). Not settled: the lock
        # is held, and anything a read misses here the live projector applies after the swap.
        await runner.catch_up(progress=meter.batch, settle=False)
        if exists:
            await conn.execute(f"ALTER SCHEMA {quote_ident(live)} RENAME TO {quote_ident(retired)}")
        await conn.execute(f"ALTER SCHEMA {quote_ident(target)} RENAME TO {quote_ident(live)}")
        if exists:
            await conn.execute(f"DROP SCHEMA {quote_ident(retired)} CASCADE")
        payload = json.dumps(
            {"position": runner.position, "tables": list(read_models.TABLES), "rebuilt": True}
        )
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
    await conn.execute(f"SET search_path TO {quote_ident(live)}")


@contextlib.contextmanager
def _collecting_less() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while replaying; put its thresholds back after.

    A replay makes millions of short-lived objects, almost none in reference cycles, while a few batches
    stay alive a while: at the default thresholds the collector keeps rescanning those, and took a third of
    the replay's CPU. Reference counting still frees everything else at once.
    """
    thresholds = gc.get_threshold()
    gc.freeze()  # what the process held before the replay is not scanned again during it
    gc.set_threshold(50_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Meter:
    """Turns batch callbacks into at most one progress line a second: done, rate, time left."""

    def __init__(self, name: str, total: int, sink: Callable[[str], None] | None) -> None:
        self.name, self.total, self.sink = name, total, sink
        self.done = 0
        self.started = self.last = time.monotonic()

    def batch(self, events: int, position: int) -> None:
        self.done += events
        # The stream grew while it was read (complaints keep coming): the total is as far as it has gone now.
        self.total = max(self.total, self.done)
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self._emit(now)

    def finish(self) -> None:
        self._emit(time.monotonic())

    def _emit(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0) / rate if rate else 0.0
        line = f"rebuild {self.name}: {self.done:,}/{self.total:,} events, {rate:,.0f} events/s, {left:,.0f} s left"
        log.info("rebuild_progress", projection=self.name, done=self.done, total=self.total, rate=round(rate))
        if self.sink is not None:
            self.sink(line)
