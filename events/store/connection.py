"""Opening the NATS connection every process owns."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

log = structlog.get_logger(__name__)


async def connect_nats(url: str, *, name: str, connect_timeout: float = 5.0) -> NATS:
    """Connect with reconnects that never give up: the default stops after about two minutes."""

    async def on_disconnect() -> None:
        log.warning("nats_disconnected", client=name)

    async def on_reconnect() -> None:
        log.info("nats_reconnected", client=name)

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", client=name, error=str(exc) or type(exc).__name__)

    # A cluster is given as "nats://a:4222,nats://b:4222": the client fails over between them.
    servers = [server.strip() for server in url.split(",") if server.strip()]
    client = LeveeNatsClient()
    await client.connect(
        servers,
        name=name,
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


_WHITESPACE = frozenset(b" \t\r\n\x0b\x0c")
_STATUS = "Status"
_DESCRIPTION = "Description"

RawHandler = Callable[[bytes, bytes], None]
"""Called with a message's payload and its raw header block (b"NATS/1.0 ...\\r\\n...\\r\\n\\r\\n")."""
AddressedHandler = Callable[[bytes, bytes, bytes, bytes], None]
"""Called with a message's subject, reply subject, payload and raw header block."""


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
    for line in rest.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip()
            if name.isascii() and name.isprintable() and " " not in name and "\t" not in name:
                headers[name] = value.strip()
    return headers


class LeveeNatsClient(NATS):
    """nats-py's client with a faster header parser; behaviour is the library's (a test checks parity).

    Reading the stream is header-heavy (each stored message carries about a dozen headers) and the library
    checks every header name character by character in a generator: 40% of a rebuild's time went there.

    Bulk reads go further: a *raw* subscription hands each message's payload and unparsed header block to a
    plain function, skipping the library's Msg objects, header dicts and per-message awaits altogether.
    """

    def __init__(self) -> None:
        super().__init__()
        self._raw_handlers: dict[int, RawHandler] = {}
        self._addressed_handlers: dict[int, AddressedHandler] = {}

    async def subscribe_raw(self, subject: str, handler: RawHandler) -> Subscription:
        """Subscribe with a plain function called for each message; close with `unsubscribe_raw`."""
        sub = await self.subscribe(subject)
        self._raw_handlers[sub._id] = handler
        return sub

    async def subscribe_addressed(self, subject: str, handler: AddressedHandler) -> Subscription:
        """As `subscribe_raw`, the function also given each message's subject and reply subject (a consumer's
        delivery carries its stream position there); close with `unsubscribe_raw`."""
        sub = await self.subscribe(subject)
        self._addressed_handlers[sub._id] = handler
        return sub

    async def unsubscribe_raw(self, sub: Subscription) -> None:
        self._raw_handlers.pop(sub._id, None)
        self._addressed_handlers.pop(sub._id, None)
        await sub.unsubscribe()

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        handler = self._raw_handlers.get(sid)
        if handler is None:
            addressed = self._addressed_handlers.get(sid)
            if addressed is None:
                await super()._process_msg(sid, subject, reply, data, headers)
                return
            self.stats["in_msgs"] += 1
            self.stats["in_bytes"] += len(data)
            addressed(subject, reply, data, headers)
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        handler(data, headers)

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
