"""Opening the NATS connection every process owns."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import structlog
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

log = structlog.get_logger(__name__)


async def connect_nats(url: str, *, name: str, connect_timeout: float = 5.0) -> NATS:
    """Connect with reconnects that never give up: the default stops after about two minutes."""

    errors = ErrorLines()

    async def on_disconnect() -> None:
        if client.is_closed:  # closed on purpose (a stop, a one-off connection): not news at 3 a.m.
            log.info("nats_closed", client=name)
            return
        log.warning("nats_disconnected", client=name)

    async def on_reconnect() -> None:
        log.info("nats_reconnected", client=name, **errors.over())

    async def on_error(exc: Exception) -> None:
        error = str(exc) or type(exc).__name__
        if errors.worth_a_line(error):
            log.warning("nats_error", client=name, error=error, **errors.since())

    # A cluster is given as "nats://a:4222,nats://b:4222": the client fails over between them.
    servers = [server.strip() for server in url.split(",") if server.strip()]
    user = next((found for server in servers if (found := urlsplit(server).username)), None)
    client = LeveeNatsClient()
    await client.connect(
        servers,
        name=name,
        inbox_prefix=inbox_prefix(user),
        max_reconnect_attempts=-1,
        # nats-py annotates these seconds as int but uses them as float (asyncio timeouts): half a second
        # between reconnects matters to how long a broker restart is felt.
        reconnect_time_wait=0.5,  # type: ignore[arg-type]
        connect_timeout=connect_timeout,  # type: ignore[arg-type]
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )
    return client


_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def inbox_prefix(user: str | None) -> str:
    """Where a client connecting as NATS `user` gets its replies: a prefix of its own, the only one the server
    lets that user subscribe to (services/embedded/nats_permissions.py), so no service reads another's replies."""
    return f"_INBOX_{user}" if user and _SUBJECT_TOKEN.fullmatch(user) else "_INBOX"


class ErrorLines:
    """Which of a connection's errors get a log line. While NATS is away the client tries again every 0.5 s
    and reports each failure: one line each was 7,200 an hour per process, burying the lines that say what
    to do (found by a review). A new kind of error is logged at once; the same kind again at most every
    REPEAT_SECONDS, with how many were not logged. The kind leaves out the address: with a cluster's URL the
    failures name each node in turn, and compared whole no two in a row were alike (found by a review)."""

    REPEAT_SECONDS = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logged_at: dict[str, float] = {}
        self._unlogged = 0

    def worth_a_line(self, error: str) -> bool:
        now, kind = self._clock(), _ADDRESS.sub("", error)
        logged_at = self._logged_at.get(kind)
        if logged_at is not None and now - logged_at < self.REPEAT_SECONDS:
            self._unlogged += 1
            return False
        self._logged_at[kind] = now
        return True

    def over(self) -> dict[str, int]:
        """The outage is over: the next error is news again. What `since` says."""
        self._logged_at.clear()
        return self.since()

    def since(self) -> dict[str, int]:
        """`not_logged`: errors since the last line that had none (then counted afresh)."""
        unlogged, self._unlogged = self._unlogged, 0
        return {"not_logged": unlogged} if unlogged else {}


# Where an error names the server it was about: "('127.0.0.1', 4222)", "nats://host:4222", "10.0.0.5:6222".
_ADDRESS = re.compile(r"\([^()]*\)|\w+://\S+|\b[\w.-]+:\d+\b")


_WHITESPACE = frozenset(b" \t\r\n\x0b\x0c")
_STATUS = "Status"
_DESCRIPTION = "Description"

AddressedHandler = Callable[[bytes, bytes, bytes, bytes], None]
"""Called with a message's subject, reply subject, payload and raw header block
(b"NATS/1.0 ...\\r\\n...\\r\\n\\r\\n")."""


def parse_raw_headers(raw: bytes) -> dict[str, str]:
    """A raw header block as the dict nats-py builds, inline status included (`Status`, `Description`).

    The block is decoded once and split once, instead of the library's per-line work; a test checks it gives
    the library's result for stored messages, status replies and odd lines.
    """
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace")
    first, _, rest = text.partition("\r\n")
    headers: dict[str, str] = {}
    if len(first) > 9 and first[8] == " ":  # "NATS/1.0 204 EOB": an inline status
        status, _, description = first[9:].partition(" ")
        if status.strip().isdigit():
            headers[_STATUS] = status.strip()
        if description.strip():
            headers[_DESCRIPTION] = description.strip()
    names = _HEADER_NAMES
    for line in rest.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            try:
                key = names[name]
            except KeyError:  # a name not seen before
                key = _header_name(name)
                if len(names) < _HEADER_NAMES_KEPT:
                    names[name] = key
            if key is not None:
                headers[key] = value.strip()
    return headers


# A stream's messages carry the same few header names over and over: each is checked once, then looked up.
_HEADER_NAMES: dict[str, str | None] = {}
_HEADER_NAMES_KEPT = 512


def _header_name(raw: str) -> str | None:
    """The header's name as nats-py keeps it, or None for a line it skips (non-ASCII, whitespace inside)."""
    name = raw.strip()
    if name.isascii() and name.isprintable() and " " not in name and "\t" not in name:
        return name
    return None


class LeveeNatsClient(NATS):
    """nats-py's client with a faster header parser; behaviour is the library's (a test checks parity).

    Reading the stream is header-heavy (each stored message carries about a dozen headers) and the library
    checks every header name character by character in a generator: 40% of a rebuild's time went there.

    Bulk reads go further: each message's subject, reply subject, payload and unparsed header block go to a
    plain function, skipping the library's Msg objects, header dicts and per-message awaits. Direct gets'
    replies come to one wildcard inbox per connection (`open_replies`), each read under its own token: a
    subscription per read cost a tenth of a worker's time loading aggregates (nats-py checks the subject
    character by character) and the server a subscription made and dropped each time. A pull consumer's
    deliveries come under their stream subjects, so a pull has a subscription of its own
    (`subscribe_addressed`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._replies_prefix = ""
        self._replies_sid: int | None = None
        self._replies_opening = asyncio.Lock()
        self._reply_handlers: dict[bytes, AddressedHandler] = {}
        self._addressed_handlers: dict[int, AddressedHandler] = {}
        self._reply_tokens = itertools.count()

    async def open_replies(self, handler: AddressedHandler) -> str:
        """A reply subject of its own whose messages go to `handler`, called with each one's subject, reply
        subject, payload and raw header block; `close_replies` when done (what comes after is dropped)."""
        if self._replies_sid is None:
            async with self._replies_opening:
                if self._replies_sid is None:
                    prefix = self.new_inbox() + "."
                    # Kept for the connection's life: nats-py subscribes it again on reconnecting.
                    sub = await self.subscribe(prefix + "*")
                    self._replies_prefix, self._replies_sid = prefix, sub._id
        token = str(next(self._reply_tokens))
        self._reply_handlers[token.encode()] = handler
        return self._replies_prefix + token

    def close_replies(self, reply_subject: str) -> None:
        self._reply_handlers.pop(reply_subject[len(self._replies_prefix) :].encode(), None)

    async def subscribe_addressed(self, subject: str, handler: AddressedHandler) -> Subscription:
        """A subscription of its own whose messages go to `handler`, as with `open_replies`; for a pull
        consumer's deliveries, which come under their stream subject, not the reply subject. Close with
        `unsubscribe_addressed`."""
        sub = await self.subscribe(subject)
        self._addressed_handlers[sub._id] = handler
        return sub

    async def unsubscribe_addressed(self, sub: Subscription) -> None:
        self._addressed_handlers.pop(sub._id, None)
        await sub.unsubscribe()

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        if sid == self._replies_sid:
            handler = self._reply_handlers.get(subject[len(self._replies_prefix) :])
        else:
            handler = self._addressed_handlers.get(sid)
            if handler is None:
                await super()._process_msg(sid, subject, reply, data, headers)
                return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        if handler is not None:  # None: a late reply to a read that has ended
            handler(subject, reply, data, headers)

    @staticmethod
    def _parse_header_lines(raw: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            name = name.strip()
            if not name.isascii() or not _WHITESPACE.isdisjoint(name):
                continue  # the library skips non-ASCII names and names with whitespace inside
            out[name.decode("ascii")] = value.strip().decode("utf-8", "replace")
        return out
