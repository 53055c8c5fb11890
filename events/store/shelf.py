"""A reader's derived state, kept between runs in a JetStream key-value bucket beside the stream.

A reader that folds the whole stream into memory (dispatch's deadline watcher) reads it from the start after
every restart: seconds at a few hundred thousand messages, minutes at millions, and nothing it watches moves
meanwhile. A shelf keeps what the fold came to at a stream position, so a restart folds only what came after.

It is a cache, never the record: the stream stays the one source of truth, and a shelf that cannot be read, is
torn, or was written by other rules is not used (the reader folds from the start, as without one).

Layout, per owner (one bucket, ``<stream>_SHELF``, history 1, so it holds only the latest of each key; no
rollups, so an owner cannot wipe another's keys):
- ``<owner>.head``: JSON naming the slot in use, its chunk count, length and SHA-256, and the owner's own
  ``meta`` (where the fold stopped, what rules folded it);
- ``<owner>.a.<n>`` and ``<owner>.b.<n>``: two slots of chunks under the server's largest message. A new
  state goes into the slot the head does not name, and the head moves last: a writer stopped half-way leaves
  the old state whole. Two writers at once can tear a slot; its checksum then refuses it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from events.store.errors import StoreError, StoreUnavailable
from events.store.jetstream import JetStreamEventStore
from events.store.records import StoredMessage
from events.store.stream import StreamSpec

log = structlog.get_logger(__name__)

CHUNK_BYTES = 512 * 1024  # well under the 1 MB max_payload of every config in deploy/nats
_SLOTS = ("a", "b")
_EXISTS_WITH_OTHER_CONFIG = 10058  # JetStream: stream name already in use with a different configuration
READ_TRIES = 3  # ticks a shelf that does not answer (while the stream does) is asked before folding anyway
# A reader shelves its fold once this many messages were folded since the last time, at most once a minute: a
# restart then folds what a minute of a surge wrote (a fold reads some 40,000 messages a second) instead of the
# whole stream. Below it, a restart's fold is short anyway. A stop waits SHELVE_AT_STOP_SECONDS at most.
SHELVE_AFTER_MESSAGES = 20_000
SHELVE_EVERY_SECONDS = 60.0
SHELVE_AT_STOP_SECONDS = 10.0
# A shelf NATS did not open at a start (Shelf.later) is asked again at each use; after READ_TRIES unanswered in
# a row, at most once in this long (doubling up to the max): a shelving must not stall its reader each minute.
OPEN_RETRY_SECONDS = 60.0
OPEN_RETRY_MAX_SECONDS = 600.0
_UNREACHABLE = (
    nats.errors.TimeoutError,
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    TimeoutError,
)


@dataclass(frozen=True)
class Shelved:
    data: bytes
    meta: dict[str, Any]


class Shelf:
    """One owner's shelved state (``owner``: a dotted key prefix such as ``dispatch.deadlines``); chunks of at
    most ``chunk_bytes`` (at most CHUNK_BYTES, the bucket's largest value)."""

    def __init__(
        self,
        kv: KeyValue | None,
        owner: str,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        opener: Callable[[], Awaitable[KeyValue]] | None = None,
    ) -> None:
        if kv is None and opener is None:
            raise ValueError("a shelf needs its bucket or a way to open it")
        self.kv, self.owner, self.chunk_bytes = kv, owner, chunk_bytes
        self._opener = opener
        self._open_failures = 0  # opens in a row NATS did not answer
        self._next_open = 0.0  # monotonic time before which no open is tried again (after READ_TRIES failed)

    @staticmethod
    async def open(
        nc: NATS, spec: StreamSpec, owner: str, *, chunk_bytes: int = CHUNK_BYTES, timeout: float = 5.0
    ) -> Shelf:
        """The owner's shelf, making the bucket if none exists (same replicas as the stream). Raises
        StoreUnavailable when NATS does not answer (as it does not when permissions refuse a request),
        ShelfRefused for a bucket it cannot trust, and nats' own errors when it refuses otherwise."""
        return Shelf(await _open_bucket(nc, spec, timeout), owner, chunk_bytes=chunk_bytes)

    @staticmethod
    def later(
        nc: NATS, spec: StreamSpec, owner: str, *, chunk_bytes: int = CHUNK_BYTES, timeout: float = 5.0
    ) -> Shelf:
        """The owner's shelf, its bucket opened at its first use (a start that met a JetStream election): each
        read or write tries to open it until one does; after READ_TRIES unanswered in a row, at most every
        OPEN_RETRY_SECONDS (doubling, up to OPEN_RETRY_MAX_SECONDS), so a shelving does not stall its reader
        at every interval while NATS keeps refusing."""
        return Shelf(
            None, owner, chunk_bytes=chunk_bytes, opener=functools.partial(_open_bucket, nc, spec, timeout)
        )

    async def _bucket(self) -> KeyValue:
        if self.kv is not None:
            return self.kv
        assert self._opener is not None  # __init__ has one of the two
        if self._open_failures >= READ_TRIES and time.monotonic() < self._next_open:
            raise StoreUnavailable(
                f"the shelf of {self.owner} is not open: tried again in "
                f"{self._next_open - time.monotonic():.0f} s"
            )
        try:
            self.kv = await self._opener()
        except (StoreUnavailable, ShelfRefused):  # a bucket made meanwhile it cannot trust: asked as seldom
            self._open_failures += 1
            if self._open_failures >= READ_TRIES:
                wait = OPEN_RETRY_SECONDS * 2 ** min(self._open_failures - READ_TRIES, 8)
                self._next_open = time.monotonic() + min(wait, OPEN_RETRY_MAX_SECONDS)
            raise
        log.info("shelf_opened", owner=self.owner, failed_before=self._open_failures)
        self._open_failures = 0
        return self.kv

    async def put(self, data: bytes, meta: dict[str, Any]) -> None:
        """Shelve ``data``: every chunk into the free slot, then the head naming it."""
        try:
            kv = await self._bucket()
            current = await self._head()
            slot = _SLOTS[1] if current is not None and current.get("slot") == _SLOTS[0] else _SLOTS[0]
            chunks = [data[i : i + self.chunk_bytes] for i in range(0, len(data), self.chunk_bytes)] or [b""]
            await asyncio.gather(*(kv.put(self._chunk_key(slot, n), c) for n, c in enumerate(chunks)))
            head = {
                "slot": slot, "chunks": len(chunks), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "meta": meta,
            }  # fmt: skip
            await kv.put(self._head_key, json.dumps(head).encode())
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"shelving {self.owner}: {type(exc).__name__}") from exc

    async def get(self) -> Shelved | None:
        """The state last shelved whole, or None: none yet, or torn (logged). StoreUnavailable when NATS does
        not answer."""
        try:
            head = await self._head()
            if head is None:
                return None
            try:
                slot, count, length, digest = (
                    head["slot"],
                    int(head["chunks"]),
                    int(head["bytes"]),
                    head["sha256"],
                )
                meta = dict(head["meta"])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("shelf_head_unreadable", owner=self.owner, error=repr(exc))
                return None
            entries = await asyncio.gather(*(self._value(self._chunk_key(slot, n)) for n in range(count)))
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"reading the shelf of {self.owner}: {type(exc).__name__}") from exc
        if any(entry is None for entry in entries):
            log.warning("shelf_torn", owner=self.owner, slot=slot, why="a chunk is missing")
            return None
        data = b"".join(entry for entry in entries if entry is not None)
        if len(data) != length or hashlib.sha256(data).hexdigest() != digest:
            log.warning("shelf_torn", owner=self.owner, slot=slot, why="the checksum does not match")
            return None
        return Shelved(data, meta)

    async def _head(self) -> dict[str, Any] | None:
        value = await self._value(self._head_key)
        if value is None:
            return None
        try:
            head = json.loads(value)
        except ValueError:
            log.warning("shelf_head_unreadable", owner=self.owner, error="not JSON")
            return None
        return head if isinstance(head, dict) else None

    async def _value(self, key: str) -> bytes | None:
        try:
            entry = await (await self._bucket()).get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        return entry.value

    @property
    def _head_key(self) -> str:
        return f"{self.owner}.head"

    def _chunk_key(self, slot: str, n: int) -> str:
        return f"{self.owner}.{slot}.{n}"


async def _open_bucket(nc: NATS, spec: StreamSpec, timeout: float) -> KeyValue:
    js = nc.jetstream(timeout=timeout)
    bucket = bucket_name(spec)
    try:
        try:
            await js.add_stream(bucket_config(bucket, spec.replicas))
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _EXISTS_WITH_OTHER_CONFIG:
                raise
            # Made by an older version, or before the stream's replicas changed: used as it is, unless its
            # config lets a message rewrite, wipe or age out other keys (rollups, limits, transforms).
            config = (await js.stream_info(f"KV_{bucket}")).config
            if unsafe := _unsafe(config, bucket):
                raise ShelfRefused(
                    f"the bucket {bucket} {unsafe}: delete it (the next start makes it anew)"
                ) from None
            log.info("shelf_bucket_config_differs", bucket=bucket, error=exc.description)
        return await js.key_value(bucket)
    except _UNREACHABLE as exc:
        raise StoreUnavailable(f"shelf bucket: {type(exc).__name__}") from exc


def bucket_config(bucket: str, replicas: int) -> StreamConfig:
    """A key-value bucket's stream, as nats-py's `create_key_value` makes one with history 1, except that no
    message may roll up (purge) the others: a worker may write only its own keys, and with rollups one could
    still wipe another's."""
    return StreamConfig(
        name=f"KV_{bucket}", description="Levee readers' folded state between runs (a cache of the stream)",
        subjects=[f"$KV.{bucket}.>"], storage=StorageType.FILE, num_replicas=replicas, max_msgs_per_subject=1,
        max_msg_size=CHUNK_BYTES, discard=DiscardPolicy.NEW, allow_direct=True, allow_rollup_hdrs=False,
        deny_delete=True, deny_purge=True, duplicate_window=120.0,
    )  # fmt: skip


@dataclass(frozen=True)
class Folded:
    position: int  # the last stream sequence the fold took in
    last: str  # that message's identity (`identity`)
    data: bytes


class FoldShelf:
    """A reader's fold of the stream on its shelf: the shelved fold when it may be used, and shelving one.

    It may be used only when the same code and data folded it from this very stream (`fingerprint`, of the
    stream's creation time: the reader's own, its code's sources among it) and the stream still holds the
    message it was folded to: otherwise its state could differ from what folding the stream from the start
    gives. Each "no" is logged as `<reader>_folds_from_start` with why.

    When to shelve is decided here too (`due`, `at_stop`): once SHELVE_AFTER_MESSAGES were folded since the last
    time, at most every SHELVE_EVERY_SECONDS, and when the reader stops on request.
    """

    def __init__(
        self, shelf: Shelf, store: JetStreamEventStore, *, fingerprint: Callable[[str], str], reader: str
    ) -> None:
        self.shelf, self.store, self.reader = shelf, store, reader
        self._fingerprint_of, self._fingerprint = fingerprint, ""
        self._failures = 0  # reads of the shelf that went unanswered
        self.shelved_position = 0  # the position last shelved (or restored from)
        self._tried_at = float(
            "-inf"
        )  # when a shelving was last tried: a failed one waits out the interval too

    def due(self, position: int) -> bool:
        """Whether the fold at `position` is to be shelved now."""
        return (
            position - self.shelved_position >= SHELVE_AFTER_MESSAGES
            and time.monotonic() - self._tried_at >= SHELVE_EVERY_SECONDS
        )

    async def at_stop(self, position: int, shelve: Callable[[], Awaitable[None]]) -> None:
        """At a stop on request: `shelve()` what was folded since the last time, SHELVE_AT_STOP_SECONDS at most, so
        that a planned restart starts where this stopped."""
        if position <= self.shelved_position:
            return
        try:
            await asyncio.wait_for(shelve(), SHELVE_AT_STOP_SECONDS)
        except TimeoutError:
            log.warning(f"{self.reader}_not_shelved", why=f"not done in {SHELVE_AT_STOP_SECONDS:.0f} s")

    async def restore(self) -> Folded | None:
        """The shelved fold, or None (logged why) when the reader must fold from the start. StoreUnavailable
        while the stream does not answer, or the shelf (READ_TRIES times): the caller asks again later."""
        try:  # the stream first: its outage is the caller's to wait out
            expected = await self._expected()
        except StoreUnavailable:
            raise
        except StoreError as exc:
            return self.from_start("the stream's info is unreadable", error=str(exc))
        try:
            shelved = await self.shelf.get()
        except Exception as exc:  # refused, unreadable or not answering: a cache, the stream has it all
            self._failures += 1
            if isinstance(exc, StoreUnavailable) and self._failures < READ_TRIES:
                raise
            return self.from_start("the shelf does not answer", error=repr(exc)[:500], level="warning")
        if shelved is None:
            return self.from_start("nothing shelved yet")
        if shelved.meta.get("fingerprint") != expected:
            return self.from_start("shelved by other code or data, or for another stream")
        try:
            position, last = int(shelved.meta["position"]), str(shelved.meta["last"])
        except (KeyError, TypeError, ValueError) as exc:
            return self.from_start("the shelf's head is unreadable", error=repr(exc), level="warning")
        # The stream must still hold what the shelf folded: after a restore of the stream from an older copy (or
        # a loss of its end) the shelf would be ahead of it, and what was written since would go unread.
        try:
            there = await self.store.message_at(position)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            return self.from_start(
                "the stream's message at the shelf's position is unreadable", error=str(exc)
            )
        if identity(there) != last:
            return self.from_start(
                "the stream no longer holds the message the shelf was folded to", position=position,
                level="warning",
            )  # fmt: skip
        self.shelved_position, self._tried_at = position, time.monotonic()
        return Folded(position, last, shelved.data)

    async def put(self, position: int, last: str, data: bytes) -> None:
        """Shelve the fold up to `position` (whose message is `last`)."""
        self._tried_at = time.monotonic()
        await self.shelf.put(
            data, {"position": position, "last": last, "fingerprint": await self._expected()}
        )
        self.shelved_position = position

    def from_start(self, why: str, *, level: str = "info", **fields: Any) -> Folded | None:
        """None, the answer that the reader folds from the start, said with why."""
        getattr(log, level)(f"{self.reader}_folds_from_start", why=why, **fields)
        return None

    async def _expected(self) -> str:
        if not self._fingerprint:
            self._fingerprint = self._fingerprint_of(await self.store.stream_created())
        return self._fingerprint


def identity(message: StoredMessage | None) -> str | None:
    """What tells the message at a position from any other: its subject and a hash of its data."""
    if message is None:
        return None
    return f"{message.subject} {hashlib.sha256(message.data).hexdigest()[:32]}"


async def open_or_none(nc: NATS, spec: StreamSpec, owner: str, *, timeout: float = 5.0) -> Shelf | None:
    """The owner's shelf; None (logged) when NATS refuses it, e.g. a bucket it cannot trust: the reader then folds
    the whole stream at every start, as it did before shelves. When NATS does not answer (a JetStream election
    at the start; credentials from before shelves look the same), a shelf opened at its first use
    (`Shelf.later`): the restore asks READ_TRIES times, shelvings go on asking, each failure logged by its reader."""
    try:
        return await Shelf.open(nc, spec, owner, timeout=timeout)
    except StoreUnavailable as exc:
        log.warning("shelf_not_opened", owner=owner, error=str(exc), consequence="opened at its first use")
        return Shelf.later(nc, spec, owner, timeout=timeout)
    except Exception as exc:  # a cache: the reader runs without one
        log.warning("shelf_unavailable", owner=owner, error=repr(exc)[:500],
                    consequence="each start folds the whole stream")  # fmt: skip
        return None


class ShelfRefused(Exception):
    """A bucket of that name exists with a config a shelf cannot trust."""


def _unsafe(config: StreamConfig, bucket: str) -> str | None:
    """Why a bucket's existing config cannot hold a shelf, or None. Whoever made it set its config: one owner's
    writes must not be able to wipe, expire or rewrite another's keys (rollups, limits, transforms)."""
    if config.allow_rollup_hdrs:
        return "allows rollups (a message may wipe the other keys)"
    if config.subject_transform or config.sources or config.mirror or config.republish:
        return "transforms, sources or republishes its messages"
    if config.subjects != [f"$KV.{bucket}.>"] or not config.allow_direct:
        return "has other subjects, or no direct gets"
    limits = (config.max_msgs, config.max_bytes, config.max_age, config.max_msgs_per_subject)
    if any(limit not in (None, -1, 0) for limit in limits[:3]) or limits[3] != 1:
        return "has limits that would drop one owner's keys for another's writes (or age them out)"
    return None


def bucket_name(spec: StreamSpec) -> str:
    """The key-value bucket of the stream's readers (its JetStream stream is ``KV_<bucket>``)."""
    return f"{spec.name}_SHELF"
