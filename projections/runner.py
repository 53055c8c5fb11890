"""The projection runner: reads the stream from its stored position and applies each batch exactly once.

One transaction per batch holds both the read models' rows and the runner's position, so a crash before
the commit leaves neither and the batch is read again; a crash after it finds the new position. Nothing is
acknowledged anywhere else: the tracking row *is* the acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import structlog

from events.store import JetStreamEventStore, StoreUnavailable
from events.store.errors import StreamGap
from events.store.jetstream import READ_BATCH
from events.store.records import StoredMessage
from projections import read_models
from projections.metrics import PROJECTION_LAG, PROJECTION_POSITION
from projections.migrate import LIVE_SCHEMA, quote_ident
from projections.ops import Op
from projections.plan import Step, plan

log = structlog.get_logger(__name__)

CHANNEL = "levee_projection"
# The guard that makes a batch apply at most once: the row moves only forwards, and RETURNING tells us
# whether it moved. No row back means this batch (or a later one) is already in: roll back and skip.
ADVANCE = (
    "INSERT INTO projection_tracking(name, position) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position "
    "WHERE projection_tracking.position < EXCLUDED.position RETURNING position"
)
Progress = Callable[[int, int], None]  # (events in this batch, position reached)
# Seconds: a lag reading costs a NATS round trip, so a busy runner takes one at most this often.
LAG_INTERVAL = 1.0


class _Skip(Exception):
    """Roll the batch's transaction back: it was applied already, or the position moved under us."""


class ProjectionRunner:
    def __init__(
        self,
        store: JetStreamEventStore,
        conn: asyncpg.Connection,
        *,
        name: str = read_models.NAME,
        schema: str = LIVE_SCHEMA,
        apply: Callable[[Any], list[Op]] = read_models.apply,
        decode: Callable[[StoredMessage], Any] | None = None,
        batch_size: int = READ_BATCH,
        notify: bool = True,
        report_metrics: bool = False,
    ) -> None:
        self.store = store
        self.reader = store  # batch direct get reads, replies collected by callback
        self.conn = conn
        self.name = name
        self.schema = schema
        self.apply = apply
        self.decode = decode or read_models.Decoder()
        self.batch_size = batch_size
        self.notify = notify
        self.position = 0
        # Only the live runner reports lag: a rebuild's position is not the live projection's.
        self.report_metrics = report_metrics
        self._lag_read_at = float("-inf")
        self.log = log.bind(projection=name, schema=schema)

    async def start(self) -> None:
        """Point the connection at the schema, load the position, and fail closed on a stream gap."""
        await self.conn.execute(f"SET search_path TO {quote_ident(self.schema)}")
        self.position = await self.stored_position()
        last = await self.store.last_sequence()
        if self.position > last:
            # The stream ends before rows we already hold: acknowledged events were lost. Refuse to go on.
            self.log.error("projection_stream_gap", position=self.position, last_sequence=last)
            raise StreamGap(self.name, self.position, last)
        self.log.info("projection_started", position=self.position, last_sequence=last)

    async def stored_position(self) -> int:
        value = await self.conn.fetchval(
            "SELECT position FROM projection_tracking WHERE name = $1", self.name
        )
        return int(value or 0)

    async def lag(self) -> int:
        """Events in the stream after this runner's position."""
        return await self.store.count_after(self.position)

    async def run(self, stop: asyncio.Event, *, idle_wait: float = 0.02) -> None:
        """Apply batches until `stop` is set; the batch in hand is committed (or not) before returning."""
        await self.start()
        while not stop.is_set():
            try:
                done = await self.catch_up(stop=stop)
            except StoreUnavailable as exc:
                self.log.warning("projection_store_unavailable", error=str(exc))
                await _wait(stop, 1.0)
                continue
            except asyncpg.PostgresError as exc:
                # e.g. a rebuild swapped the schema under a statement in flight: nothing of the batch was
                # committed, so start again from whatever position the (new) tables hold.
                self.log.error("projection_batch_failed", error=str(exc), kind=type(exc).__name__)
                await _wait(stop, 0.2)
                self.position = await self.stored_position()
                continue
            if done == 0:
                await _wait(stop, idle_wait)

    async def catch_up(self, *, stop: asyncio.Event | None = None, progress: Progress | None = None) -> int:
        """Apply batches until the stream has no more; return how many events were applied.

        The next batch is read while the current one is written, so NATS and PostgreSQL work side by side.
        """
        applied = 0
        reading = asyncio.ensure_future(self.reader.read(after_seq=self.position, limit=self.batch_size))
        try:
            while True:
                messages = await reading
                if not messages:
                    self._report_lag(0)  # nothing after our position right now
                    return applied
                reading = asyncio.ensure_future(
                    self.reader.read(after_seq=messages[-1].seq, limit=self.batch_size)
                )
                done = await self.apply_messages(messages)
                if self.position != messages[-1].seq:
                    # Resynchronised to another position: what we prefetched follows the wrong one.
                    await _discard(reading)
                    reading = asyncio.ensure_future(
                        self.reader.read(after_seq=self.position, limit=self.batch_size)
                    )
                applied += done
                if self.report_metrics and time.monotonic() - self._lag_read_at >= LAG_INTERVAL:
                    self._lag_read_at = time.monotonic()
                    self._report_lag(await self.lag())
                if progress is not None and done:
                    progress(done, self.position)
                if stop is not None and stop.is_set():
                    return applied
        finally:
            await _discard(reading)

    async def process_batch(self) -> int:
        """Read and apply one batch after the current position; 0 when there was nothing to apply."""
        return await self.apply_messages(
            await self.reader.read(after_seq=self.position, limit=self.batch_size)
        )

    async def apply_messages(self, messages: Sequence[StoredMessage]) -> int:
        """Apply messages that directly follow `self.position`, in one transaction with the tracking row."""
        if not messages:
            return 0
        events = [event for event in map(self.decode, messages) if event is not None]
        ops = [op for event in events for op in self.apply(event)]
        steps = plan(ops)
        new_position = messages[-1].seq
        try:
            async with self.conn.transaction():
                # Lock our row and check it still says where we think we are: another instance, or a rebuild
                # swapped in, may have moved it. Applying on top of a different position would lose or repeat.
                stored = int(
                    await self.conn.fetchval(
                        "SELECT position FROM projection_tracking WHERE name = $1 FOR UPDATE", self.name
                    )
                    or 0
                )
                if stored != self.position:
                    raise _Skip
                if await self.conn.fetchval(ADVANCE, self.name, new_position) is None:
                    raise _Skip
                await execute(self.conn, steps)
                if self.notify:
                    # Sent inside the transaction: PostgreSQL delivers it at commit, and never if we roll back.
                    await self.conn.execute(
                        "SELECT pg_notify($1, $2)", CHANNEL, _payload(new_position, events, ops)
                    )
        except _Skip:
            # Nothing of this batch was written: carry on from wherever the stored position now is.
            stored = await self.stored_position()
            self.log.info(
                "projection_batch_skipped", position=self.position, stored=stored, upto=new_position
            )
            self.position = stored
            return 0
        self.position = new_position
        return len(messages)

    def _report_lag(self, lag: int) -> None:
        if self.report_metrics:
            PROJECTION_LAG.labels(self.name).set(lag)
            PROJECTION_POSITION.labels(self.name).set(self.position)


async def execute(conn: asyncpg.Connection, steps: Sequence[Step]) -> None:
    for step in steps:
        if step.columns is not None:
            await conn.copy_records_to_table(step.table, records=step.rows, columns=step.columns)
        elif len(step.rows) == 1:
            await conn.execute(step.sql, *step.rows[0])
        else:
            await conn.executemany(step.sql, step.rows)


def _payload(position: int, events: Sequence[Any], ops: Sequence[Op]) -> str:
    kinds = Counter(type(event).__name__ for event in events)
    tables = sorted({op.table for op in ops})
    return json.dumps({"position": position, "tables": tables, "events": dict(sorted(kinds.items()))})


async def _discard(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
