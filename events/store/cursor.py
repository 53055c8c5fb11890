"""A reader's own place in the stream: an ephemeral pull consumer that hands it the whole stream in order.

A batch direct get costs nats-server 7.6-8.9 µs of CPU per message it sends; an ephemeral pull consumer with no
acknowledgements 2.4-2.6 µs (docs/performance.md, 2026-12-06), and its deliveries carry only the stored
headers, so the reader parses less too. Every worker and the projector read every message of the stream, so
they read through one of these: `JetStreamEventStore.read(..., cursor=...)`.

The consumer is the reader's alone, unfiltered, acknowledges nothing and is kept in memory by the server:
what the reader has done is its own tracking record's to say, never the consumer's. Pull requests only, with
`no_wait`: the server answers what it has, up to the batch, and a 404 when it has fewer. A reader with
nothing to read waits with one pull that expires (`wait`), woken by the next message stored.

- A read inside the last read (a worker reads again the tracking records after its last event) is answered
  from that read; any other read that does not go on from the last one (a batch redone, a restart) starts a
  new consumer at its position.
- One the server no longer has (restarted, or idle past IDLE_SECONDS) is made again; so is one a pull gave up
  on part way (what it sent is unknown), and one whose deliveries skip (another client pulled from it).
- Any other refusal sends the reader to batch direct gets for FALLBACK_SECONDS: slower, never stuck.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import nats.errors
import structlog

from events.store.connection import LeveeNatsClient, parse_raw_headers
from events.store.errors import StoreError, StoreUnavailable
from events.store.read_window import ReadWindow
from events.store.records import DELIVERY_STAMP, StoredMessage

if TYPE_CHECKING:
    from events.store.jetstream import JetStreamEventStore
log = structlog.get_logger(__name__)

IDLE_SECONDS = 60  # a consumer its reader stopped asking is deleted by the server after this
FALLBACK_SECONDS = 60.0
# A waiting pull's answer is due when it expires; this long after, the server is taken to have lost it.
WAIT_SLACK_SECONDS = 1.0
_END = ("404", "408")  # no (more) messages now; the request expired
# The consumer is no more (nobody answers for it), or was lost with its server: make it again. Any other
# refusal (a 409 over a server limit, a 400) sends the reader back to direct gets for a while.
_GONE_DESCRIPTIONS = ("consumer deleted", "leadership change", "server shutdown")


class _ConsumerGone(Exception):
    def __init__(self, why: str, *, nothing_taken: bool = False) -> None:
        super().__init__(why)
        self.nothing_taken = nothing_taken  # the consumer sent nothing to this pull before it


class _Unusable(Exception):
    pass


class StreamCursor:
    """Reads after a position, in order, from the reader's own consumer; see the module's docstring."""

    def __init__(self, store: JetStreamEventStore, label: str, *, held: int) -> None:
        """`held`: how many of the last messages read are kept to answer a read again (one read's worth)."""
        if not isinstance(store.nc, LeveeNatsClient):
            raise TypeError("a stream cursor reads through LeveeNatsClient (connect_nats)")
        self.store = store
        self.nc: LeveeNatsClient = store.nc
        self.label = label
        self.name: str | None = None  # the consumer's, given by the server
        self._next = 0  # the position the consumer delivers next
        self._delivered = 0  # the consumer's own count of what it sent: each delivery must be the next one
        self._abandoned: str | None = None  # left in an unknown state: deleted when the next one is made
        # The last reads: a reader that reads part of them again (a worker commits up to its last event; the
        # tracking records after it are read again) is answered from here, not by a new consumer.
        self._held = ReadWindow(held)
        self._direct_until = 0.0  # reads go by direct get until then (a consumer could not be used)
        self._woken_after: int | None = None  # a wait after this position brought a message (`wait`)
        self._no_wait_until = 0.0  # a wait failed: until then `wait` returns at once (its caller polls)
        self.log = log.bind(reader=label)

    async def read(self, after_seq: int, limit: int) -> list[StoredMessage]:
        """Up to `limit` messages after `after_seq` (every subject), oldest first; [] at the stream's end."""
        woken, self._woken_after = self._woken_after, None
        held = self._held.take(after_seq, limit)
        if held is not None:
            if held and after_seq == woken and held[-1].seq + 1 == self._next and len(held) < limit:
                return await self._go_on(held, limit)
            return held
        if time.monotonic() < self._direct_until:
            return await self.store.read_direct(after_seq, limit)
        retried_fresh = False
        for _ in range(3):
            fresh = self.name is None or after_seq + 1 != self._next
            if fresh:
                try:
                    await self._start(after_seq + 1)
                except StoreError as exc:
                    # A server (or a deployment's NATS permissions) that will not make one: read as before
                    # for a while, then try again. The reader is slower, never stuck.
                    return await self._fall_back(after_seq, limit, exc)
            try:
                messages = await self._pull(limit)
            except _ConsumerGone as gone:
                if fresh and gone.nothing_taken and not retried_fresh:
                    # A cluster may not answer for a consumer made a moment ago on another node yet: it has
                    # sent nothing, so it is still where it was made. Ask it once more, a moment later.
                    retried_fresh = True
                    await asyncio.sleep(0.005)
                else:
                    self.log.info("stream_cursor_restarted", position=after_seq, status=str(gone))
                    self._abandon()
                continue
            except _Unusable as exc:
                return await self._fall_back(after_seq, limit, exc)
            if messages:
                self._next = messages[-1].seq + 1
                self._held.record(after_seq, messages)
            return messages
        return await self._fall_back(after_seq, limit, StoreError("the stream consumer vanished three times"))

    async def _go_on(self, held: list[StoredMessage], limit: int) -> list[StoredMessage]:
        """What a wait brought and, up to `limit`, what the consumer has after it: one read, as if the
        consumer had sent it all now."""
        if self.name is None or time.monotonic() < self._direct_until:
            return held
        try:
            more = await self._pull(limit - len(held))
        except (StoreError, _ConsumerGone, _Unusable) as exc:  # the next read starts a new consumer
            self.log.debug("stream_cursor_go_on_failed", error=str(exc))
            self._abandon()
            return held
        if more:
            self._next = more[-1].seq + 1
            self._held.record(held[-1].seq, more)
        return [*held, *more]

    async def wait(self, after_seq: int, seconds: float) -> None:
        """Wait in the server, at most `seconds`, for a message after `after_seq` (at once when it cannot).

        One pull that expires instead of one every few milliseconds: an idle reader costs neither it nor the
        server anything, and a message is delivered the moment it is stored. That message is kept: the next
        read after `after_seq` starts with it and goes on with what came since. Cancelling the wait (the
        reader stopping) leaves the consumer where nobody knows: the next read starts a new one.

        A wait that fails (refused, or no answer: a broker restarting) is not tried again for
        FALLBACK_SECONDS: its caller polls meanwhile, rather than making a consumer for each failing wait."""
        now = time.monotonic()
        if now < self._direct_until or now < self._no_wait_until:
            return
        try:
            if self.name is None or after_seq + 1 != self._next:
                await self._start(after_seq + 1)
            first = await self._pull(1, expires=seconds)
        except (StoreError, _ConsumerGone, _Unusable) as exc:
            self.log.info("stream_cursor_wait_failed", error=str(exc), polling_for=FALLBACK_SECONDS)
            self._no_wait_until = time.monotonic() + FALLBACK_SECONDS
            self._abandon()
            return
        if first:  # else it expired with nothing
            self._next = first[-1].seq + 1
            self._held.record(after_seq, first)
            self._woken_after = after_seq

    async def _fall_back(self, after_seq: int, limit: int, exc: Exception) -> list[StoredMessage]:
        self.log.warning("stream_cursor_unavailable", error=str(exc), retry_in=FALLBACK_SECONDS)
        self._direct_until = time.monotonic() + FALLBACK_SECONDS
        self._abandon()
        return await self.store.read_direct(after_seq, limit)

    def _abandon(self) -> None:
        """The consumer is left where nobody knows (or is gone): the next read starts a new one at its
        position, and deletes this one first."""
        if self.name is not None:
            self._abandoned, self.name = self.name, None

    async def close(self) -> None:
        """Delete the consumer now rather than after IDLE_SECONDS; a server that does not answer within a
        second is left to do it itself (a shutdown is not held up by a broker that is away)."""
        names, self.name, self._abandoned = (self.name, self._abandoned), None, None
        for name in names:
            if name is not None:
                await self._delete(name, timeout=1.0)

    async def _start(self, position: int) -> None:
        for name in (self.name, self._abandoned):
            if name is not None:
                await self._delete(name)
        self.name = self._abandoned = None
        spec = self.store.spec
        request: dict[str, Any] = {
            "stream_name": spec.name,
            "config": {
                "ack_policy": "none",
                "deliver_policy": "by_start_sequence",
                "opt_start_seq": position,
                "mem_storage": True,
                "num_replicas": 1,
                "inactive_threshold": IDLE_SECONDS * 1_000_000_000,
                "description": f"levee {self.label}",
            },
        }
        body = await self._api(f"$JS.API.CONSUMER.CREATE.{spec.name}", request)
        self.name = str(body["name"])
        self._next = position
        self._delivered = 0

    async def _delete(self, name: str, *, timeout: float | None = None) -> None:
        try:
            await self._api(f"$JS.API.CONSUMER.DELETE.{self.store.spec.name}.{name}", None, timeout=timeout)
        except StoreError as exc:  # gone already, or the server is away: it deletes idle ones itself
            self.log.debug("stream_cursor_not_deleted", consumer=name, error=str(exc))

    async def _api(
        self, subject: str, request: dict[str, Any] | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        payload = json.dumps(request).encode() if request is not None else b""
        try:
            reply = await self.nc.request(subject, payload, timeout=timeout or self.store.timeout)
        except (TimeoutError, nats.errors.Error) as exc:
            raise StoreUnavailable(f"{subject}: {type(exc).__name__}") from exc
        body: dict[str, Any] = json.loads(reply.data)
        if "error" in body:
            raise StoreError(f"{subject}: {body['error'].get('description')}")
        return body

    async def _pull(self, limit: int, *, expires: float | None = None) -> list[StoredMessage]:
        """Up to `limit` deliveries: what the server has now, or with `expires` (seconds) the first of them
        as soon as there is one, waiting at most that long in the server."""
        wanted = max(1, limit)
        messages: list[StoredMessage] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        append = messages.append

        def accept(subject: bytes, reply: bytes, data: bytes, raw_headers: bytes) -> None:
            if done.done():
                return
            try:
                message = self._message(subject, reply, data, raw_headers)
            except (_ConsumerGone, _Unusable) as exc:
                done.set_exception(exc)
                return
            except Exception as exc:  # never into nats-py's read loop, which would stop reading
                done.set_exception(_Unusable(f"an unreadable delivery: {exc!r}"))
                return
            if message is None:  # the end of what the server has now
                done.set_result(None)
                return
            append(message)
            if len(messages) == wanted:
                done.set_result(None)

        inbox = self.nc.new_inbox()
        try:
            sub = await self.nc.subscribe_addressed(inbox, accept)
            try:
                if expires is None:
                    request = json.dumps({"batch": wanted, "no_wait": True}).encode()
                    bound = self.store.timeout
                else:  # the server answers 408 when it expires with nothing; none (restarted?): gone
                    request = json.dumps({"batch": wanted, "expires": int(expires * 1e9)}).encode()
                    bound = expires + WAIT_SLACK_SECONDS
                subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.store.spec.name}.{self.name}"
                await self.nc.publish(subject, request, reply=inbox)
                await asyncio.wait_for(done, bound)
            finally:
                await self.nc.unsubscribe_addressed(sub)
        except _ConsumerGone as gone:
            # `read` decides; asking it again is worth it only when a 503 came before anything was sent.
            raise _ConsumerGone(
                str(gone), nothing_taken=not messages and str(gone).startswith("503")
            ) from None
        except BaseException as exc:
            # Failed, timed out or cancelled part way: the consumer may have sent messages nobody took, and
            # acknowledges nothing, so where it stands is unknown. The next read starts one at its position.
            self._abandon()
            if isinstance(exc, TimeoutError | nats.errors.Error):
                raise StoreUnavailable(
                    f"{self.label}: stream consumer read failed: {type(exc).__name__}"
                ) from exc
            raise
        return messages

    def _message(self, subject: bytes, reply: bytes, data: bytes, raw_headers: bytes) -> StoredMessage | None:
        """A delivery as a stored message; None for the end of what the server has now."""
        if not reply:  # a status
            headers = parse_raw_headers(raw_headers)
            status, description = headers.get("Status", ""), headers.get("Description", "").lower()
            if status in _END:
                return None
            if status == "503" or (status == "409" and description.startswith(_GONE_DESCRIPTIONS)):
                raise _ConsumerGone(f"{status} {description}".strip())
            raise _Unusable(f"stream consumer: status {status or 'none'} {description}".strip())
        # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<stored ns>.<pending>, or with
        # the domain and account hash after ACK (and a token at the end) on newer servers.
        tokens = reply.split(b".")
        at = 5 if len(tokens) == 9 else 7
        delivered = int(tokens[at + 1])
        if delivered != self._delivered + 1:
            # Not the consumer's next delivery: someone else pulled from it (a leaked credential of another
            # service). What they took would be skipped: read again from a consumer of our own.
            raise _ConsumerGone(f"delivery {delivered} after {self._delivered}")
        self._delivered = delivered
        headers = parse_raw_headers(raw_headers)
        headers[DELIVERY_STAMP] = tokens[at + 2].decode()
        return StoredMessage(int(tokens[at]), subject.decode(), data, headers)
