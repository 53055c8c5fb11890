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
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from events.store.errors import StoreUnavailable
from events.store.stream import StreamSpec

log = structlog.get_logger(__name__)

CHUNK_BYTES = 512 * 1024  # well under the 1 MB max_payload of every config in deploy/nats
_SLOTS = ("a", "b")
_EXISTS_WITH_OTHER_CONFIG = 10058  # JetStream: stream name already in use with a different configuration
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

    def __init__(self, kv: KeyValue, owner: str, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.kv, self.owner, self.chunk_bytes = kv, owner, chunk_bytes

    @staticmethod
    async def open(
        nc: NATS, spec: StreamSpec, owner: str, *, chunk_bytes: int = CHUNK_BYTES, timeout: float = 5.0
    ) -> Shelf:
        """The owner's shelf, making the bucket if none exists (same replicas as the stream). Raises
        StoreUnavailable when NATS does not answer (as it does not when permissions refuse a request), and
        nats' own errors when it refuses otherwise."""
        js = nc.jetstream(timeout=timeout)
        bucket = bucket_name(spec)
        try:
            try:
                await js.add_stream(bucket_config(bucket, spec.replicas))
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != _EXISTS_WITH_OTHER_CONFIG:
                    raise
                # Made by an older version, or before the stream's replicas changed: used as it is, unless its
                # config lets a message rewrite or wipe other keys (rollups, transforms, sources).
                config = (await js.stream_info(f"KV_{bucket}")).config
                if unsafe := _unsafe(config, bucket):
                    raise ShelfRefused(
                        f"the bucket {bucket} {unsafe}: delete it (dispatch makes it anew)"
                    ) from None
                log.info("shelf_bucket_config_differs", bucket=bucket, error=exc.description)
            kv = await js.key_value(bucket)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"shelf bucket: {type(exc).__name__}") from exc
        return Shelf(kv, owner, chunk_bytes=chunk_bytes)

    async def put(self, data: bytes, meta: dict[str, Any]) -> None:
        """Shelve ``data``: every chunk into the free slot, then the head naming it."""
        try:
            current = await self._head()
            slot = _SLOTS[1] if current is not None and current.get("slot") == _SLOTS[0] else _SLOTS[0]
            chunks = [data[i : i + self.chunk_bytes] for i in range(0, len(data), self.chunk_bytes)] or [b""]
            await asyncio.gather(*(self.kv.put(self._chunk_key(slot, n), c) for n, c in enumerate(chunks)))
            head = {
                "slot": slot, "chunks": len(chunks), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "meta": meta,
            }  # fmt: skip
            await self.kv.put(self._head_key, json.dumps(head).encode())
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
            entry = await self.kv.get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        return entry.value

    @property
    def _head_key(self) -> str:
        return f"{self.owner}.head"

    def _chunk_key(self, slot: str, n: int) -> str:
        return f"{self.owner}.{slot}.{n}"


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


class ShelfRefused(Exception):
    """A bucket of that name exists with a config a shelf cannot trust."""


def _unsafe(config: StreamConfig, bucket: str) -> str | None:
    """Why a bucket's existing config cannot hold a shelf, or None."""
    if config.allow_rollup_hdrs:
        return "allows rollups (a message may wipe the other keys)"
    if config.subject_transform or config.sources or config.mirror or config.republish:
        return "transforms, sources or republishes its messages"
    if config.subjects != [f"$KV.{bucket}.>"] or not config.allow_direct:
        return "has other subjects, or no direct gets"
    return None


def bucket_name(spec: StreamSpec) -> str:
    """The key-value bucket of the stream's readers (its JetStream stream is ``KV_<bucket>``)."""
    return f"{spec.name}_SHELF"
