"""A reader's own place in the stream: an ephemeral pull consumer that hands it the whole stream in order.

A batch direct get costs nats-server 7.6-8.9 µs of CPU per message it sends; an ephemeral pull consumer with no
acknowledgements 2.4-2.6 µs (docs/performance.md, 2026-12-06), and its deliveries carry only the stored
headers, so the reader parses less too. Every worker and the projector read every message of the stream, so
they read through one of these: `JetStreamEventStore.read(..., cursor=...)`.

The consumer is the reader's alone, unfiltered, acknowledges nothing and is kept in memory by the server:
what the reader has done is its own tracking record's to say, never the consumer's. A read that does not go
on from where the last one ended (a batch redone, a restart) starts a new consumer at that position; one the
server no longer has (restarted, or idle past `IDLE`) is started again. Pull requests only, with `no_wait`:
the server answers what it has, up to the batch, and a 404 when it has fewer.
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
from events.store.records import DELIVERY_STAMP, StoredMessage

if TYPE_CHECKING:
    from events.store.jetstream import JetStreamEventStore

log = structlog.get_logger(__name__)

IDLE_SECONDS = 60  # a consumer its reader stopped asking is deleted by the server after this
FALLBACK_SECONDS = 60.0
_END = ("404", "408")  # no (more) messages now; the request expired
_GONE = ("409", "503")  # the consumer was deleted, or nobody answers for it


class _ConsumerGone(Exception):
    pass


class StreamCursor:
    """Reads after a position, in order, from the reader's own consumer; see the module's docstring."""

    def __init__(self, store: JetStreamEventStore, label: str) -> None:
        if not isinstance(store.nc, LeveeNatsClient):
            raise TypeError("a stream cursor reads through LeveeNatsClient (connect_nats)")
        self.store = store
        self.nc: LeveeNatsClient = store.nc
        self.label = label
        self.name: str | None = None  # the consumer's, given by the server
        self._next = 0  # the position the consumer delivers next
        self._direct_until = 0.0  # reads go by direct get until then (a consumer could not be made)
        self.log = log.bind(reader=label)

    async def read(self, after_seq: int, limit: int) -> list[StoredMessage]:
        """Up to `limit` messages after `after_seq` (every subject), oldest first; [] at the stream's end."""
        if time.monotonic() < self._direct_until:
            return await self.store.read_direct(after_seq, limit)
        for _ in range(2):
            if self.name is None or after_seq + 1 != self._next:
                try:
                    await self._start(after_seq + 1)
                except StoreError as exc:
                    # A server (or a deployment's NATS permissions) that will not make one: read as before
                    # for a while, then try again. The reader is slower, never stuck.
                    self.log.warning("stream_cursor_unavailable", error=str(exc), retry_in=FALLBACK_SECONDS)
                    self._direct_until = time.monotonic() + FALLBACK_SECONDS
                    return await self.store.read_direct(after_seq, limit)
            try:
                messages = await self._pull(limit)
            except _ConsumerGone:
                self.log.info("stream_cursor_restarted", position=after_seq)
                continue
            if messages:
                self._next = messages[-1].seq + 1
            return messages
        raise StoreUnavailable(f"{self.label}: the stream consumer vanished twice in a row")

    async def close(self) -> None:
        """Delete the consumer now rather than after IDLE_SECONDS; a server that does not answer within a
        second is left to do it itself (a shutdown is not held up by a broker that is away)."""
        name, self.name = self.name, None
        if name is not None:
            await self._delete(name, timeout=1.0)

    async def _start(self, position: int) -> None:
        if self.name is not None:
            await self._delete(self.name)
            self.name = None
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

    async def _pull(self, limit: int) -> list[StoredMessage]:
        wanted = max(1, limit)
        messages: list[StoredMessage] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        append = messages.append

        def accept(subject: bytes, reply: bytes, data: bytes, raw_headers: bytes) -> None:
            if done.done():
                return
            if not reply:  # a status: the end of what the server has now, or the consumer is gone
                status = parse_raw_headers(raw_headers).get("Status", "")
                if status in _END:
                    done.set_result(None)
                elif status in _GONE:
                    done.set_exception(_ConsumerGone(status))
                else:
                    done.set_exception(StoreError(f"stream consumer: status {status or 'none'}"))
                return
            # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<stored ns>.<pending>, or
            # with the domain and account hash after ACK (and a token at the end) on newer servers.
            tokens = reply.split(b".")
            at = 5 if len(tokens) == 9 else 7
            headers = parse_raw_headers(raw_headers)
            headers[DELIVERY_STAMP] = tokens[at + 2].decode()
            append(StoredMessage(int(tokens[at]), subject.decode(), data, headers))
            if len(messages) == wanted:
                done.set_result(None)

        inbox = self.nc.new_inbox()
        try:
            sub = await self.nc.subscribe_addressed(inbox, accept)
            try:
                request = json.dumps({"batch": wanted, "no_wait": True}).encode()
                subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.store.spec.name}.{self.name}"
                await self.nc.publish(subject, request, reply=inbox)
                await asyncio.wait_for(done, self.store.timeout)
            finally:
                await self.nc.unsubscribe_raw(sub)
        except BaseException as exc:
            # Failed, timed out or cancelled part way: the consumer may have sent messages nobody took, and
            # acknowledges nothing, so where it stands is unknown. The next read starts one at its position.
            self.name = None
            if isinstance(exc, TimeoutError | nats.errors.Error):
                raise StoreUnavailable(
                    f"{self.label}: stream consumer read failed: {type(exc).__name__}"
                ) from exc
            raise
        return messages
