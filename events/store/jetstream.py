"""The async event store core: atomic appends with optimistic concurrency, and direct-get reads.

Everything here is one round trip or a short loop of them; no threads. Services call it directly.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from events.store.connection import LeveeNatsClient, parse_raw_headers
from events.store.cursor import StreamCursor
from events.store.errors import (
    ConcurrencyConflict,
    StoreError,
    StoreFull,
    StoreUnavailable,
    WriteUnconfirmed,
)
from events.store.read_window import ReadWindow
from events.store.records import StoredMessage, Write
from events.store.stream import StreamSpec
from events.store.write_health import NO_STORAGE, UNCONFIRMED, WriteHealth

log = structlog.get_logger(__name__)

MAX_BATCH = 1000  # the server's limit for one atomic batch
READ_BATCH = 1000
# Seconds one waiting pull lasts before it is asked again (`wait_for_more`): it ends early when a message comes,
# and an idle reader notices a broker that restarted within about this long.
CURSOR_WAIT_SECONDS = 2.0
# A message after this long without any is read at once: nothing else is coming with it to wait for.
QUIET_SECONDS = 1.0
ALL = ">"  # every subject of the stream: events, tracking records, code claims, dead letters
EXPECTED_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
_BATCH_BUSY = {10210, 10176}  # too many batches in flight: try again shortly
_WRONG_LAST_SEQ = 10071
# Insufficient resources (what a publish meets at the server's storage limit, measured with nats-server 2.15),
# insufficient memory, insufficient storage: no retry stores anything until an operator adds space.
_NO_STORAGE = {10023, 10028, 10047}
_TRANSPORT_ERRORS = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.UnexpectedEOF,
)


class JetStreamEventStore:
    """Appends and reads on one stream through one NATS connection, which the caller owns."""

    def __init__(
        self,
        nc: NATS,
        spec: StreamSpec,
        *,
        timeout: float = 5.0,
        read_window: int | None = None,
        health: WriteHealth | None = None,
    ) -> None:
        """`read_window`: keep that many of the newest messages read, for a second reader of this store in
        the process (events/store/read_window.py); None: every read asks the server. `health`: where each
        append's outcome is noted (the process's one WriteHealth)."""
        self.nc = nc
        self.spec = spec
        self.timeout = timeout
        self.health = health
        self._direct = f"$JS.API.DIRECT.GET.{spec.name}"
        self.window = ReadWindow(read_window) if read_window else None

    # -- writing -----------------------------------------------------------------------------------

    async def append(self, writes: Sequence[Write]) -> list[int]:
        """Store `writes` all together or not at all; return their stream sequences.

        Each write's `expected_last_seq` is checked by the server inside the same atomic batch, so
        a stale writer gets ConcurrencyConflict and nothing of the batch is stored.
        """
        if not writes:
            return []
        if len(writes) > MAX_BATCH:
            raise ValueError(f"an atomic batch holds at most {MAX_BATCH} messages, got {len(writes)}")
        if self.health is None:
            return await self._append(writes)
        started = self.health.now()
        try:
            positions = await self._append(writes)
        except StoreFull as exc:
            self.health.refused(NO_STORAGE, str(exc), started)
            raise
        except WriteUnconfirmed as exc:
            # The broker reads but did not write, or it answers nothing while the connection stands (a hung
            # nats-server: a review saw four writes unconfirmed and this count at 0). Gone, it is checked elsewhere.
            if exc.read_back or self.nc.is_connected:
                self.health.refused(UNCONFIRMED, str(exc), started)
            raise
        self.health.stored(started)
        return positions

    async def _append(self, writes: Sequence[Write]) -> list[int]:
        if not self.nc.is_connected:
            # Refuse up front: a publish while reconnecting is buffered and could land after we said no.
            raise StoreUnavailable("not connected to NATS")
        batch_id = uuid.uuid4().hex
        started = datetime.now(UTC)
        for attempt in range(50):
            try:
                ack = await self._publish_batch(batch_id, writes)
            except (TimeoutError, nats.errors.TimeoutError):
                return await self._resolve_ambiguous(batch_id, writes, started)
            except _TRANSPORT_ERRORS as exc:
                raise StoreUnavailable(f"NATS unavailable: {type(exc).__name__}") from exc
            error = ack.get("error")
            if error is None:
                last = int(ack["seq"])
                return list(range(last - len(writes) + 1, last + 1))
            code = error.get("err_code")
            if code in _BATCH_BUSY:
                await asyncio.sleep(min(0.002 * (attempt + 1), 0.05))
                continue
            if code == _WRONG_LAST_SEQ:
                description = error.get("description", "")
                found = _LAST_SEQUENCE.search(description)  # "wrong last sequence: N", as the leader saw it
                raise ConcurrencyConflict(
                    _conflicting_subject(writes), description, last_seq=int(found[1]) if found else 0
                )
            if code in _NO_STORAGE:
                raise StoreFull(
                    f"JetStream has no storage left for the stream ({error.get('description')}, {code})"
                )
            if error.get("code") == 503:
                raise StoreUnavailable(error.get("description", "JetStream unavailable"))
            raise StoreError(f"JetStream refused the batch: {error.get('description')} ({code})")
        raise StoreUnavailable("too many atomic batches in flight; try again")

    async def _publish_batch(self, batch_id: str, writes: Sequence[Write]) -> dict[str, Any]:
        if len(writes) == 1:
            # One message needs no batch: a plain publish is atomic and about five times faster than a
            # one-message atomic batch here. Its Nats-Msg-Id finds it again after an ambiguous timeout.
            [write] = writes
            headers = {**write.headers, "Nats-Msg-Id": batch_id}
            if write.expected_last_seq is not None:
                headers[EXPECTED_SUBJECT_SEQ] = str(write.expected_last_seq)
            reply = await self.nc.request(write.subject, write.data, timeout=self.timeout, headers=headers)
            return dict(json.loads(reply.data))
        last = len(writes)
        for number, write in enumerate(writes, start=1):
            headers = dict(write.headers)
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(number)
            if write.expected_last_seq is not None:
                headers[EXPECTED_SUBJECT_SEQ] = str(write.expected_last_seq)
            if number < last:
                await self.nc.publish(write.subject, write.data, headers=headers)
            else:
                headers["Nats-Batch-Commit"] = "1"
                reply = await self.nc.request(
                    write.subject, write.data, timeout=self.timeout, headers=headers
                )
                return dict(json.loads(reply.data))
        raise AssertionError("unreachable: writes is not empty")

    async def _resolve_ambiguous(
        self, batch_id: str, writes: Sequence[Write], started: datetime
    ) -> list[int]:
        """A publish that timed out may still have been stored: read back before reporting anything.

        Stored means all of it: a batch's messages are contiguous, so the last must be at its place and be
        the batch's last. At the storage limit nats-server 2.15 was seen to leave the batch that crossed it
        unanswered with only its first message readable (the rest appeared when the server restarted): that
        is no confirmation (tests/integration/store/test_store_full.py)."""
        log.warning("append_ambiguous", batch_id=batch_id, messages=len(writes))
        try:
            first = await self._first_of_batch(batch_id, writes[0], started)
            if first is not None and len(writes) > 1:
                last = await self.message_at(first + len(writes) - 1)
                ours = (
                    (last.headers.get("Nats-Batch-Id"), last.headers.get("Nats-Batch-Sequence"))
                    if last
                    else None
                )
                if ours != (batch_id, str(len(writes))):
                    log.warning("append_ambiguous_partial", batch_id=batch_id, first=first)
                    raise WriteUnconfirmed(
                        "NATS did not confirm the write and only part of it is readable in the stream "
                        "(a restart of nats-server may still complete it)",
                        read_back=True,
                    )
        except StoreUnavailable as exc:
            if isinstance(exc, WriteUnconfirmed):
                raise
            raise WriteUnconfirmed(
                f"NATS did not confirm the write and could not be read back ({exc})", read_back=False
            ) from exc
        except StoreError as exc:
            raise WriteUnconfirmed(
                f"NATS did not confirm the write and reading it back failed ({exc})", read_back=False
            ) from exc
        if first is None:
            raise WriteUnconfirmed(
                "NATS did not confirm the write and it is not in the stream", read_back=True
            )
        log.info("append_ambiguous_resolved", batch_id=batch_id, stored=True)
        return list(range(first, first + len(writes)))

    async def _first_of_batch(self, batch_id: str, write: Write, started: datetime) -> int | None:
        """The position of the write with this batch (or message) id on the first write's subject, or None.

        Read after the sequence the write expected its subject to end at, when it gave one; else by time, from
        well before `started`: the server stamps messages with its own clock, which this host's may be ahead of
        (2 s used to be the margin, and a write stored while this host ran 3 s fast was called not stored)."""
        if write.expected_last_seq is not None:
            found = await self.read_subject(write.subject, after_seq=write.expected_last_seq)
        else:
            found = await self.read_subject(write.subject, since=started - READ_BACK_CLOCK_MARGIN)
        for message in found:
            if batch_id in (message.headers.get("Nats-Batch-Id"), message.headers.get("Nats-Msg-Id")):
                return message.seq
        return None

    # -- reading -----------------------------------------------------------------------------------

    async def last_message(self, subject: str) -> StoredMessage | None:
        """The subject's newest message (direct get, last_by_subj), or None if it has none."""
        try:
            reply = await self.nc.request(f"{self._direct}.{subject}", b"", timeout=self.timeout)
        except (TimeoutError, nats.errors.TimeoutError, *_TRANSPORT_ERRORS) as exc:
            raise StoreUnavailable(f"direct get failed: {type(exc).__name__}") from exc
        status = (reply.headers or {}).get("Status")
        if status == "404":
            return None
        if status:
            raise StoreError(f"direct get {subject}: status {status}")
        return _to_stored(reply)

    async def last_matching(self, subject_filter: str | None = None) -> StoredMessage | None:
        """The newest message on any subject matching a wildcard filter (default: all events), or None.

        A wildcard cannot be part of a request subject, so this uses the JSON form of direct get.
        """
        query = {"last_by_subj": subject_filter or self.spec.events_filter}
        return await self._direct_get(query, f"last matching {subject_filter}")

    async def message_at(self, seq: int) -> StoredMessage | None:
        """The message at one stream sequence (direct get by `seq`), or None if the stream has none there."""
        return await self._direct_get({"seq": seq}, f"at {seq}")

    async def _direct_get(self, query: dict[str, Any], what: str) -> StoredMessage | None:
        """One message by the JSON form of direct get, or None when the stream has none (404)."""
        try:
            reply = await self.nc.request(self._direct, json.dumps(query).encode(), timeout=self.timeout)
        except (TimeoutError, nats.errors.TimeoutError, *_TRANSPORT_ERRORS) as exc:
            raise StoreUnavailable(f"direct get failed: {type(exc).__name__}") from exc
        status = (reply.headers or {}).get("Status")
        if status == "404":
            return None
        if status:
            raise StoreError(f"direct get {what}: status {status}")
        return _to_stored(reply)

    async def read_subject(
        self, subject: str, *, after_seq: int = 0, since: datetime | None = None
    ) -> list[StoredMessage]:
        """Every message on `subject` after `after_seq` (or stored since a time), by batch direct get."""
        messages: list[StoredMessage] = []
        request: dict[str, Any] = {"next_by_subj": subject, "batch": READ_BATCH}
        if since is not None:
            request["start_time"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        else:
            request["seq"] = after_seq + 1
        while True:
            chunk, pending = await self._batch_get(request)
            messages.extend(chunk)
            if not chunk or pending == 0:
                return messages
            request.pop("start_time", None)
            request["seq"] = chunk[-1].seq + 1

    async def last_messages(self, subjects: Sequence[str]) -> list[StoredMessage]:
        """The last message of each subject that has one, in one batch direct get per thousand subjects."""
        found: list[StoredMessage] = []
        for start in range(0, len(subjects), READ_BATCH):
            chunk = list(subjects[start : start + READ_BATCH])
            messages, _ = await self._batch_get({"multi_last": chunk, "batch": len(chunk)})
            found.extend(messages)
        return found

    async def first_messages(self, subjects: Sequence[str], *, concurrency: int = 64) -> list[StoredMessage]:
        """The first message of each subject that has one, a request each, `concurrency` at a time.

        A subject's whole history costs more than its length: measured on a drill's stream of 25,000
        complaints, 0.6-1.9 ms a complaint read whole against 0.4 ms for its first message (and 4-7 ms against
        0.2 ms on a synthetic stream of 80,000 events). There is no multi-first request to batch them."""
        gate = asyncio.Semaphore(concurrency)

        async def first(subject: str) -> list[StoredMessage]:
            async with gate:
                messages, _ = await self._batch_get({"next_by_subj": subject, "seq": 1, "batch": 1})
                return messages

        reads = [asyncio.ensure_future(first(s)) for s in subjects]
        try:
            return [m for found in await asyncio.gather(*reads) for m in found]
        finally:  # one failed (a broker gone): the thousands still queued would each wait out their timeout
            for read in reads:
                read.cancel()

    def open_cursor(self, label: str) -> StreamCursor | None:
        """A reader's own consumer for reading the whole stream in order (events/store/cursor.py); None when
        the connection is not a LeveeNatsClient (then reads go by direct get, as without one)."""
        return StreamCursor(self, label, held=READ_BATCH) if isinstance(self.nc, LeveeNatsClient) else None

    async def read(
        self,
        *,
        after_seq: int,
        limit: int = READ_BATCH,
        subject: str | None = None,
        cursor: StreamCursor | None = None,
    ) -> list[StoredMessage]:
        """Up to `limit` messages after a global position, matching `subject` (default: all events).

        A read of every subject (`ALL`) goes through `cursor` when given: the reader's own consumer, which
        expects it to go on from its last read. Through a read window, a read of the events may answer fewer
        than `limit` before the stream's end: only an empty answer means nothing more is there."""
        subject = subject or self.spec.events_filter
        if subject != ALL:
            cursor = None
        if self.window is not None and subject in (ALL, self.spec.events_filter):
            return await self._read_through_window(
                self.window, after_seq, limit, subject.removesuffix(">"), cursor
            )
        if cursor is not None:
            return await cursor.read(after_seq, min(limit, READ_BATCH))
        return await self.read_direct(after_seq, limit, subject)

    async def wait_for_more(
        self,
        after_seq: int,
        cursor: StreamCursor | None,
        stop: asyncio.Event,
        *,
        poll: float,
    ) -> None:
        """Return `poll` seconds after a message after `after_seq` may be there to read (at once when it
        ended a quiet spell of QUIET_SECONDS or more), or when `stop` is set.

        With the reader's cursor it waits in the server (`StreamCursor.wait`, asked again every
        CURSOR_WAIT_SECONDS), so an idle reader does not poll: `levee up` idle used 11.7% of a core, now
        0.8-1.2%. The `poll` seconds after a wake let a batch gather, as polling did: read the moment each
        message came, batches were of one and cost more CPU under load (`bench/e2e.py` at 100/s: 148% of the
        two cores against 130%). Without a cursor it polls."""
        began = time.monotonic()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            if cursor is not None and (self.window is None or self.window.high <= after_seq):
                waiting = asyncio.ensure_future(cursor.wait(after_seq, CURSOR_WAIT_SECONDS))
                try:
                    await asyncio.wait({stopping, waiting}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiting.cancel()
                    (outcome,) = await asyncio.gather(waiting, return_exceptions=True)
                if isinstance(outcome, Exception):  # not a store error: those `wait` handles itself
                    log.warning("stream_wait_failed", error=repr(outcome)[:300])
            quiet = cursor is not None and time.monotonic() - began >= QUIET_SECONDS
            if not quiet and not stopping.done():
                await asyncio.wait({stopping}, timeout=poll)
        finally:
            stopping.cancel()
            await asyncio.gather(stopping, return_exceptions=True)

    async def read_direct(self, after_seq: int, limit: int, subject: str = ALL) -> list[StoredMessage]:
        """The read by batch direct get: no window, no cursor."""
        request = {"seq": after_seq + 1, "batch": min(limit, READ_BATCH), "next_by_subj": subject}
        chunk, _ = await self._batch_get(request)
        return chunk

    async def _read_through_window(
        self, window: ReadWindow, after_seq: int, limit: int, prefix: str, cursor: StreamCursor | None
    ) -> list[StoredMessage]:
        """A read answered from the window where it covers the range, else from the server, unfiltered (so the
        window can keep it) and filtered here; a read of the events only may then answer fewer than `limit`."""
        while True:
            served = window.take(after_seq, limit, prefix)
            if served:
                return served
            if served is not None:  # none of the wanted messages up to the window's end: read on from there
                after_seq = window.high
            if cursor is not None:
                chunk = await cursor.read(after_seq, min(limit, READ_BATCH))
            else:
                chunk = await self.read_direct(after_seq, READ_BATCH if prefix else limit)
            window.record(after_seq, chunk)
            wanted = [m for m in chunk if m.subject.startswith(prefix)] if prefix else chunk
            if wanted or not chunk:
                return wanted[:limit]
            after_seq = chunk[-1].seq

    async def count_after(self, after_seq: int, subject: str | None = None) -> int:
        """How many messages matching `subject` (default: all events) lie after a position: a reader's lag."""
        return (await self.backlog(after_seq, subject))[0]

    async def backlog(self, after_seq: int, subject: str | None = None) -> tuple[int, datetime | None]:
        """A reader's lag and how late it is: how many messages matching `subject` (default: all events) lie
        after a position, and when the server stored the oldest of them (None when there is none)."""
        request = {"seq": after_seq + 1, "batch": 1, "next_by_subj": subject or self.spec.events_filter}
        chunk, pending = await self._batch_get(request, with_first_pending=True)
        return pending + len(chunk), chunk[0].time if chunk else None

    async def _batch_get(
        self, request: dict[str, Any], *, with_first_pending: bool = False
    ) -> tuple[list[StoredMessage], int]:
        """One batch direct get: the server streams messages to an inbox and ends with a 204 EOB.

        Returns the messages and how many more match after them (the server's Nats-Num-Pending).
        Replies are collected by a callback rather than awaited one by one: a rebuild reads millions."""
        messages: list[StoredMessage] = []
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        wanted = request["batch"]
        append = messages.append

        def accept(data: bytes, headers: dict[str, str]) -> None:
            if done.done():
                return
            status = headers.get("Status")
            if status in ("204", "404"):  # end of batch / nothing there
                done.set_result(int(headers.get("Nats-Num-Pending", 0)))
            elif status:
                # 503: nobody answers for the stream (JetStream stopping, a leader being elected): say so as
                # the broker being away, which readers wait out, not as a fault in the request.
                error = StoreUnavailable if status == "503" else StoreError
                done.set_exception(
                    error(f"batch direct get: status {status} {headers.get('Description', '')}")
                )
            else:
                append(StoredMessage(int(headers["Nats-Sequence"]), headers["Nats-Subject"], data, headers))
                if with_first_pending and len(messages) == wanted:
                    done.set_result(int(headers.get("Nats-Num-Pending", 0)))

        def collect(subject: bytes, reply: bytes, data: bytes, raw_headers: bytes) -> None:
            try:
                accept(data, parse_raw_headers(raw_headers))
            except Exception as exc:  # never into nats-py's read loop: it would drop the whole connection
                if not done.done():
                    done.set_exception(StoreError(f"batch direct get: an unreadable reply: {exc!r}"))

        async def collect_msg(msg: Msg) -> None:  # a plain nats-py client: the library's own path
            accept(msg.data, dict(msg.headers or {}))

        try:
            nc = self.nc
            if isinstance(nc, LeveeNatsClient):
                inbox = await nc.open_replies(collect)
                sub = None
            else:
                inbox = nc.new_inbox()
                sub = await nc.subscribe(inbox, cb=collect_msg)
            try:
                await nc.publish(self._direct, json.dumps(request).encode(), reply=inbox)
                pending = await asyncio.wait_for(done, self.timeout)
            finally:
                if isinstance(nc, LeveeNatsClient):
                    nc.close_replies(inbox)
                elif sub is not None:
                    await sub.unsubscribe()
        except (TimeoutError, nats.errors.TimeoutError, *_TRANSPORT_ERRORS) as exc:
            raise StoreUnavailable(f"batch direct get failed: {type(exc).__name__}") from exc
        return messages, pending

    async def last_sequence(self) -> int:
        """The stream's last sequence: the newest global position."""
        return int((await self.stream_state())["last_seq"])

    async def stream_state(self) -> dict[str, Any]:
        """The stream's state from stream info: `messages`, `bytes`, `last_seq`, `num_subjects` and the rest."""
        return dict((await self._stream_info())["state"])

    async def stream_created(self) -> str:
        """When the stream was made (from stream info): one stream from another of the same name."""
        return str((await self._stream_info())["created"])

    async def _stream_info(self) -> dict[str, Any]:
        try:
            reply = await self.nc.request(f"$JS.API.STREAM.INFO.{self.spec.name}", b"", timeout=self.timeout)
        except (TimeoutError, nats.errors.TimeoutError, *_TRANSPORT_ERRORS) as exc:
            raise StoreUnavailable(f"stream info failed: {type(exc).__name__}") from exc
        try:
            body = json.loads(reply.data)
            if "error" in body:
                raise StoreError(f"stream info: {body['error'].get('description')}")
            if not isinstance(body["state"], dict) or not body["created"]:
                raise ValueError("no state or creation time")
            return dict(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"stream info: an unreadable reply: {exc!r}") from exc


_LAST_SEQUENCE = re.compile(r"wrong last sequence: (\d+)")
READ_BACK_CLOCK_MARGIN = timedelta(minutes=5)  # how far this host's clock may run ahead of the NATS servers'


def _conflicting_subject(writes: Sequence[Write]) -> str | None:
    checked = [w.subject for w in writes if w.expected_last_seq is not None]
    return checked[0] if len(checked) == 1 else None


def _to_stored(msg: Msg) -> StoredMessage:
    headers = dict(msg.headers or {})
    return StoredMessage(
        seq=int(headers["Nats-Sequence"]),
        subject=headers.get("Nats-Subject", msg.subject),
        data=msg.data,
        headers=headers,
    )
