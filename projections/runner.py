"""The projection runner: reads the stream from its stored position and applies each batch exactly once.

One transaction per batch holds both the read models' rows and the runner's position, so a crash before
the commit leaves neither and the batch is read again; a crash after it finds the new position. Nothing is
acknowledged anywhere else: the tracking row *is* the acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from events.backoff import Backoff, wait_or_stop
from events.store import JetStreamEventStore, StoreError, StoreUnavailable
from events.store.aggregates import TOPIC
from events.store.errors import StreamGap
from events.store.jetstream import READ_BATCH
from events.store.records import StoredMessage
from projections import dead_letters, read_models
from projections.fold import Folding
from projections.metrics import PROJECTION_LAG, PROJECTION_POSITION, PROJECTION_UNDECODABLE
from projections.migrate import LIVE_SCHEMA, quote_ident
from projections.ops import Derive, Op
from projections.plan import Merge, Step, plan

log = structlog.get_logger(__name__)

CHANNEL = "levee_projection"
# The guard that makes a batch apply exactly once: the tracking row moves from where the batch began ($3) to
# where it ends ($2) only if it still says $3, and RETURNING tells whether it moved. No row back means
# another instance, or a rebuild swapped in, moved it: roll back and skip. One statement, which also locks
# the row until the batch commits; from 0 the row may not exist yet. With $4 and $5 it also sends the
# batch's NOTIFY, which PostgreSQL delivers at commit, and never if the batch rolls back.
_MOVE = "UPDATE projection_tracking SET position = $2 WHERE name = $1 AND position = $3 RETURNING position"
_START = (
    "INSERT INTO projection_tracking(name, position) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
    "SET position = EXCLUDED.position WHERE projection_tracking.position = $3 RETURNING position"
)
_ADVANCE = {
    (start, notify): (
        f"WITH moved AS ({sql}) SELECT position, pg_notify($4, $5) FROM moved" if notify else sql
    )
    for start, sql in ((False, _MOVE), (True, _START))
    for notify in (False, True)
}
Progress = Callable[[int, int], None]  # (events in this batch, position reached)
Read = Callable[[int, int], Awaitable[list[StoredMessage]]]  # (after position, at most) -> messages
# Seconds: a lag reading costs a NATS round trip, so a busy runner takes one at most this often.
LAG_INTERVAL = 1.0
ALL = ">"
# New rows from this many up go by COPY; fewer by one INSERT executemany, which takes one round trip where
# COPY takes two (the live runner's small batches).
COPY_ROWS = 100
# Seconds a settling catch-up waits for the messages it knows are stored (see `catch_up`).
SETTLE_SECONDS = 10.0
# Messages prepared between two turns of the event loop (see `prepare`).
PREPARE_SLICE = 64


# What PostgreSQL answers for a batch's own values, every time it is sent (out of range, of the wrong type, a
# required one missing): an event to skip, not a passing fault. Other refusals (a check constraint, a full disk)
# may refuse every batch alike: those are retried, never skipped.
class RowsRefused(Exception):
    """asyncpg could not encode a step's rows for COPY (a value of the wrong type, out of the column's range):
    what a DataError says for rows sent one statement at a time."""


REFUSED_DATA = (asyncpg.DataError, asyncpg.NotNullViolationError, RowsRefused)


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch ready to commit: the position it follows and the one it ends at, and what to write."""

    after: int
    position: int
    events: int  # stream messages that are events (decodable or not), the count progress reports
    dead_letters: int  # workers' dead-letter records among the messages (folded into `dead_letters`)
    steps: list[Step]
    payload: str | None  # the NOTIFY; None when not notifying, or with neither events nor dead letters
    messages: Sequence[
        StoredMessage
    ] = ()  # what it was prepared from: to be taken apart if PostgreSQL refuses it


class _ReadAhead:
    """Reads the stream ahead of the runner, up to `depth` requests, while batches are prepared and written.

    It stops at the first empty read: the stream's end for now, and the runner comes back with a new reader.
    `more` is False after a short read: the next one is not worth waiting for to fill a batch.
    """

    def __init__(self, read: Read, after: int, limit: int, depth: int = 3) -> None:
        self._queue: asyncio.Queue[list[StoredMessage] | BaseException] = asyncio.Queue()
        # A read is sent only with a credit, and taking a read's messages gives one back: at most `depth`
        # reads are in flight or waiting, and the next goes out when the runner takes one.
        self._credits: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(depth):
            self._credits.put_nowait(None)
        self.limit = limit
        self._ended = False
        self._closed = False
        self._held: list[StoredMessage] | None = None
        self.more = True
        self._task = asyncio.ensure_future(self._run(read, after))

    async def _run(self, read: Read, after: int) -> None:
        try:
            while True:
                await self._credits.get()
                chunk = await read(after, self.limit)
                if self._closed:
                    # Python 3.11's wait_for (inside the read) can swallow the cancel that `close` sends
                    # when its reply lands at the same moment: the flag ends the loop all the same.
                    return
                self._queue.put_nowait(chunk)
                if not chunk:
                    return
                after = chunk[-1].seq
        except Exception as exc:  # handed to the runner, which meets it where it reads
            self._queue.put_nowait(exc)

    async def get(self, *, wait: bool = True) -> list[StoredMessage] | None:
        """The next read's messages, [] once the reader has reached the end; None when not waiting and
        the next read is not in yet."""
        if self._ended:
            return []
        if self._held is not None:
            item: list[StoredMessage] | BaseException = self._held
            self._held = None
        elif wait:
            item = await self._queue.get()
            self._credits.put_nowait(None)
        else:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
            self._credits.put_nowait(None)
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        self._ended = not item
        self.more = len(item) == self.limit
        return item

    def put_back(self, chunk: list[StoredMessage]) -> None:
        """Keep a chunk that did not fit in a batch for the next `get`."""
        self._held = chunk

    async def close(self) -> None:
        self._closed = True
        await _discard(self._task)


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
        dead_letter: Callable[[StoredMessage], list[Op]] | None = dead_letters.apply,
        batch_size: int = READ_BATCH,
        notify: bool = True,
        report_metrics: bool = False,
    ) -> None:
        self.store = store
        self.reader = store
        # The stream in order through a consumer of the runner's own (events/store/cursor.py); the position
        # stays the tracking row's. None on a plain nats-py connection: batch direct get, as before.
        self.cursor = store.open_cursor(f"projection {name} ({schema})")
        # Events are read with every other message of the stream (see `_read`) and picked out by subject.
        self.events_prefix = store.spec.events_filter.removesuffix(">")
        # Workers' dead letters are not events, but command staff must see them: folded by `dead_letter`.
        self.dead_letters_prefix = store.spec.dead_letter_subject("")
        self.dead_letter = dead_letter
        self.conn = conn
        self.name = name
        self.schema = schema
        self.apply = apply
        self.decode = decode or read_models.Decoder()
        self.batch_size = batch_size
        self.notify = notify
        self.position = 0
        self.folding: Folding | None = None  # what `plan` needs to fold a new row's updates; set by start()
        # Only the live runner reports lag: a rebuild's position is not the live projection's.
        self.report_metrics = report_metrics
        self._lag_read_at = float("-inf")
        self.log = log.bind(projection=name, schema=schema)

    async def start(self) -> None:
        """Point the connection at the schema, load the position, and fail closed on a stream gap."""
        await self.conn.execute(f"SET search_path TO {quote_ident(self.schema)}")
        self.position = await self.stored_position()
        self.folding = await Folding.load(self.conn, self.schema)
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
        try:
            await self._run(stop, idle_wait)
        finally:
            if self.cursor is not None:
                await self.cursor.close()

    async def _run(self, stop: asyncio.Event, idle_wait: float) -> None:
        backoff = Backoff()  # batches failed in a row: each retry waits longer (events/backoff.py)
        while not stop.is_set():
            before = self.position
            try:
                done = await self.catch_up(stop=stop, settle=False)
            except (StoreUnavailable, asyncpg.PostgresError) as exc:
                # Failing again and again (NATS gone, a full disk) it waits longer each time, not five log lines
                # a second; batches committed before this one failed start the waits afresh (a flap, not a wall).
                if self.position > before:
                    backoff.succeeded()
                retry_in = backoff.next_delay()
                if isinstance(exc, StoreUnavailable):
                    self.log.warning(
                        "projection_store_unavailable",
                        error=str(exc),
                        failed=backoff.failed,
                        retry_in=retry_in,
                    )
                    await wait_or_stop(stop, retry_in)
                    continue
                # e.g. a rebuild swapped the schema under a statement in flight: nothing of the batch was
                # committed, so start again from whatever position the (new) tables hold.
                self.log.error(
                    "projection_batch_failed", error=str(exc), kind=type(exc).__name__, failed=backoff.failed,
                    retry_in=retry_in,
                )  # fmt: skip
                await wait_or_stop(stop, retry_in)
                self.position = await self.stored_position()
                self.folding = await Folding.load(self.conn, self.schema)  # the tables may have changed too
                continue
            backoff.succeeded()
            if done == 0:
                # Until the next message (a pull waiting in the server, not polling), then `idle_wait` for
                # a batch to gather.
                await self.store.wait_for_more(self.position, self.cursor, stop, poll=idle_wait)

    async def catch_up(
        self, *, stop: asyncio.Event | None = None, progress: Progress | None = None, settle: bool = True
    ) -> int:
        """Apply batches until the stream has no more; return how many events were applied.

        With `settle` (a rebuild, a swap, a test) it goes on until it has applied everything stored when it
        was called: the server may answer a pull sent the moment a message is stored with "nothing" (the
        consumer not yet told of it; 1 in 75 right after a write on a busy machine). The live runner does
        not settle: it reads again when the next message wakes it.
        """
        until = await self.store.last_sequence() if settle else 0
        applied = await self._catch_up(stop, progress)
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.position < until and not (stop is not None and stop.is_set()):
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"projection {self.name}: the stream holds {until} but reads end at {self.position}"
                )
            await self.store.wait_for_more(self.position, self.cursor, stop or asyncio.Event(), poll=0.005)
            applied += await self._catch_up(stop, progress)
        return applied

    async def _catch_up(self, stop: asyncio.Event | None, progress: Progress | None) -> int:
        """Apply batches until a read finds nothing more.

        Three things overlap: NATS reads ahead, this process prepares the next batch (decodes, applies,
        plans), and PostgreSQL writes the one before. Commits still go one at a time and in order, each in
        its own transaction with the tracking row, and a batch is only prepared for the position the batch
        before it ends at: if that one was skipped, what was prepared after it is dropped and read again.
        """
        applied = 0
        reader = self._reader()
        committing: asyncio.Future[int] | None = None
        try:
            after = self.position
            while True:
                messages = await self._gather(reader)
                batch = await self.prepare(messages, after=after) if messages else None
                if committing is not None:
                    done, committing = await committing, None
                    applied += done
                    await self._committed(done, progress)
                    if stop is not None and stop.is_set():
                        return applied
                    if self.position != after:
                        # Resynchronised to another position: what we read and prepared follows the wrong one.
                        await reader.close()
                        reader = self._reader()
                        after = self.position
                        continue
                if batch is None:
                    self._report_lag(0)  # nothing after our position right now
                    return applied
                committing = asyncio.ensure_future(self.commit(batch))
                after = batch.position
                if self.batch_size <= READ_BATCH:
                    # A live batch is small and latency counts: let it commit before the next read is taken
                    # (its result is settled above). Preparing the next one meanwhile made each round longer.
                    await asyncio.wait([committing])
        except asyncio.CancelledError:
            if committing is not None:
                committing.cancel()  # rolled back, or committed if the COMMIT was out: the tracking row says
            raise
        finally:
            await reader.close()
            if committing is not None:
                # Leaving on an error (a failed read): the commit in flight finishes, or fails, first.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await committing

    async def _committed(self, done: int, progress: Progress | None) -> None:
        if self.report_metrics and time.monotonic() - self._lag_read_at >= LAG_INTERVAL:
            self._lag_read_at = time.monotonic()
            try:
                self._report_lag(await self.lag())
            # Only the gauge goes stale: the batch is committed, and the next read says more.
            except StoreError as exc:
                self.log.warning("projection_lag_unavailable", error=str(exc))
        if progress is not None and done:
            progress(done, self.position)

    def _reader(self) -> _ReadAhead:
        limit = min(self.batch_size, READ_BATCH)
        # A live batch is one read, and one read ahead is enough; a rebuild's batches are several.
        return _ReadAhead(self._read, self.position, limit, depth=1 if self.batch_size <= limit else 3)

    async def _gather(self, reader: _ReadAhead) -> list[StoredMessage]:
        """The next batch: the next read, and the reads after it that fit in `batch_size`. After a full read
        the next is waited for (a rebuild's batches are several reads); after a short one, only reads
        already in are taken, so nothing read ahead waits for a later commit."""
        messages = await reader.get() or []
        while messages and len(messages) < self.batch_size:
            chunk = await reader.get(wait=reader.more)
            if not chunk:
                break
            if len(messages) + len(chunk) > self.batch_size:
                reader.put_back(chunk)
                break
            messages += chunk
        return messages

    async def _read(self, after: int, limit: int) -> list[StoredMessage]:
        # Every message of the stream, not only events: nats-server answers a batch get with a subject filter
        # at a sixth of the speed (about 80 µs of its CPU a message against 12 µs), and the stream's other
        # messages (workers' tracking, dead letters, snapshots) are few and picked out here by subject.
        return await self.reader.read(after_seq=after, limit=limit, subject=ALL, cursor=self.cursor)

    async def process_batch(self) -> int:
        """Read and apply one batch after the current position; 0 when there was nothing to apply."""
        return await self.apply_messages(await self._read(self.position, min(self.batch_size, READ_BATCH)))

    async def apply_messages(self, messages: Sequence[StoredMessage]) -> int:
        """Apply messages that directly follow `self.position`, in one transaction with the tracking row."""
        if not messages:
            return 0
        return await self.commit(await self.prepare(messages, after=self.position))

    async def prepare(self, messages: Sequence[StoredMessage], *, after: int) -> Batch:
        """Decode, apply and plan messages that follow position `after`: pure work, no database.

        Done a slice at a time, letting the event loop run between slices: a commit in flight sends its
        next statement as soon as PostgreSQL answers the last, instead of after the whole batch.
        """
        prefix, decode, apply = self.events_prefix, self.decode, self.apply
        events: list[Any] = []
        ops: list[Op] = []
        ours = dead = 0
        for start in range(0, len(messages), PREPARE_SLICE):
            if start:
                await asyncio.sleep(0)
            for message in messages[start : start + PREPARE_SLICE]:
                if not message.subject.startswith(prefix):
                    if self.dead_letter is not None and message.subject.startswith(self.dead_letters_prefix):
                        dead += 1
                        ops += self.dead_letter(message)
                    continue
                ours += 1
                event = decode(message)
                if event is None:
                    continue
                try:
                    applied = apply(event)
                except Exception as exc:
                    # Decoded, but not as its model expects (a field missing, of another type): skipped and
                    # counted as an undecodable one is. Raised, it stopped the board for everyone, for good.
                    self._unusable(message, exc)
                    continue
                events.append(event)
                ops += applied
        position = messages[-1].seq
        payload = _payload(position, events, ops) if self.notify and (ours or dead) else None
        return Batch(after, position, ours, dead, plan(ops, self.folding), payload, messages)

    def _unusable(self, message: StoredMessage, exc: BaseException) -> None:
        PROJECTION_UNDECODABLE.inc()
        self.log.error(
            "projection_unusable_event",
            seq=message.seq,
            topic=message.headers.get(TOPIC),
            error=repr(exc)[:500],
        )

    async def commit(self, batch: Batch) -> int:
        """Write a prepared batch and move the tracking row, in one transaction; the events applied, or 0
        when the batch was skipped (applied already, or the position moved under us). A batch PostgreSQL
        refuses for its values (REFUSED_DATA) is taken apart to find the event that holds them, which is
        skipped and counted; the others are applied."""
        try:
            return await self._commit(batch)
        except REFUSED_DATA as exc:
            if not batch.messages:
                raise
            return await self._commit_apart(batch, exc)

    async def _commit_apart(self, batch: Batch, refused: Exception) -> int:
        messages = batch.messages
        if len(messages) == 1:
            self._unusable(messages[0], refused)
            return await self._commit(Batch(batch.after, batch.position, 0, 0, [], None))
        half = len(messages) // 2
        first = await self.prepare(messages[:half], after=batch.after)
        done = await self.commit(first)
        if self.position != first.position:
            return done  # skipped: the position moved under us
        return done + await self.commit(await self.prepare(messages[half:], after=first.position))

    async def _commit(self, batch: Batch) -> int:
        if batch.after != self.position:
            return 0
        try:
            async with self.conn.transaction():
                # Move our row only if it still says where we think we are: applying on top of a different
                # position would lose or repeat. The row stays locked until the batch commits.
                sql = _ADVANCE[batch.after == 0, batch.payload is not None]
                notify = (CHANNEL, batch.payload) if batch.payload is not None else ()
                if await self.conn.fetchrow(sql, self.name, batch.position, batch.after, *notify) is None:
                    raise _Skip
                await execute(self.conn, batch.steps)
        except _Skip:
            # Nothing of this batch was written: carry on from wherever the stored position now is.
            stored = await self.stored_position()
            self.log.info(
                "projection_batch_skipped", position=self.position, stored=stored, upto=batch.position
            )
            self.position = stored
            return 0
        self.position = batch.position
        return batch.events

    def _report_lag(self, lag: int) -> None:
        if self.report_metrics:
            PROJECTION_LAG.labels(self.name).set(lag)
            PROJECTION_POSITION.labels(self.name).set(self.position)


async def execute(conn: asyncpg.Connection, steps: Sequence[Step]) -> None:
    for step in steps:
        if step.derive is not None:
            await _derive(conn, step, step.derive)
            continue
        if step.merge is not None:
            await _merge(conn, step.merge)
            continue
        sql = step.sql
        if step.columns is not None:
            if len(step.rows) >= COPY_ROWS:
                try:
                    await conn.copy_records_to_table(step.table, records=step.rows, columns=step.columns)
                except (TypeError, ValueError, OverflowError) as exc:  # raised while encoding, before sending
                    raise RowsRefused(f"{step.table}: {exc}") from exc
                continue
            sql = _insert_sql(step.table, step.columns)
        if len(step.rows) == 1:
            await conn.execute(sql, *step.rows[0])
        else:
            await conn.executemany(sql, step.rows)


async def _derive(conn: asyncpg.Connection, step: Step, derive: Derive) -> None:
    """Read the step's rows, apply the change to each in order, write them back: two round trips. No lock is
    needed: only the holder of the tracking row (locked by `commit`) writes this schema's rows."""
    columns = derive.columns
    ids = list(dict.fromkeys(row_id for row_id, _ in step.rows))
    found = await conn.fetch(f"SELECT id, {', '.join(columns)} FROM {step.table} WHERE id = ANY($1)", ids)
    values = {record["id"]: dict(record) for record in found}
    for row_id, arg in step.rows:
        if row_id in values:  # no row, no change: as an UPDATE of a missing row
            values[row_id].update(derive.change(values[row_id], arg))
    if values:
        assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(columns, start=2))
        await conn.executemany(
            f"UPDATE {step.table} SET {assignments} WHERE id = $1",
            [(row_id, *(row[column] for column in columns)) for row_id, row in values.items()],
        )


async def _merge(conn: asyncpg.Connection, merge: Merge) -> None:
    """Read the rows, apply each one's changes to its values, write each once: two round trips. No lock is
    needed, as for `_derive`."""
    columns = tuple(merge.columns)
    found = await conn.fetch(
        f"SELECT {', '.join(columns)} FROM {merge.table} WHERE id = ANY($1)", list(merge.changes)
    )
    rows = []
    for record in found:  # no row, no change: as an UPDATE of a missing row
        row = dict(record)
        merge.apply(row)
        rows.append(tuple(row[column] for column in columns))
    if rows:
        assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(columns[1:], start=2))
        await conn.executemany(f"UPDATE {merge.table} SET {assignments} WHERE id = $1", rows)


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


def _payload(position: int, events: Sequence[Any], ops: Sequence[Op]) -> str:
    kinds = Counter(type(event).__name__ for event in events)
    tables = sorted({op.table for op in ops})
    return json.dumps({"position": position, "tables": tables, "events": dict(sorted(kinds.items()))})


async def _discard(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
