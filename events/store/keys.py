"""Per-complaint encryption keys for personal data, kept outside the stream in PostgreSQL.

Erasing a key (crypto-shredding) leaves every event in place and makes the reporter unreadable everywhere,
replays included, because nothing else can decrypt the sealed fields.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from uuid import UUID

import asyncpg
import structlog

log = structlog.get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS personal_data_keys (
    complaint_id  uuid PRIMARY KEY,
    key           bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    erased_at     timestamptz,
    erased_reason text,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
"""


class PersonalKeyStore:
    """Keys by complaint id. Concurrent `put`s are gathered into one INSERT, like group commit."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._pending: list[tuple[UUID, bytes, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def create_schema(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(SCHEMA)

    async def put(self, complaint_id: UUID, key: bytes) -> None:
        """Store a new key durably; returns once committed. A key is written before the event it opens."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((complaint_id, key, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.pool.acquire() as conn:
                    await conn.execute(
                        "INSERT INTO personal_data_keys (complaint_id, key) "
                        "SELECT * FROM unnest($1::uuid[], $2::bytea[]) ON CONFLICT (complaint_id) DO NOTHING",
                        [item[0] for item in batch],
                        [item[1] for item in batch],
                    )
            except Exception as exc:  # every waiter hears of it; nothing is swallowed
                for _, _, future in batch:
                    with contextlib.suppress(asyncio.InvalidStateError):
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                with contextlib.suppress(asyncio.InvalidStateError):
                    future.set_result(None)

    async def get(self, complaint_id: UUID) -> bytes | None:
        """The key, or None when it was erased or never existed."""
        async with self.pool.acquire() as conn:
            key = await conn.fetchval(
                "SELECT key FROM personal_data_keys WHERE complaint_id = $1", complaint_id
            )
        return bytes(key) if key is not None else None

    async def get_many(self, complaint_ids: Iterable[UUID]) -> dict[UUID, bytes]:
        ids = list(complaint_ids)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT complaint_id, key FROM personal_data_keys WHERE complaint_id = ANY($1::uuid[]) "
                "AND key IS NOT NULL",
                ids,
            )
        return {row["complaint_id"]: bytes(row["key"]) for row in rows}

    async def erase(self, complaint_id: UUID, reason: str) -> bool:
        """Destroy the key for good. True if a key was erased now, False if none or already erased."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "UPDATE personal_data_keys SET key = NULL, erased_at = now(), erased_reason = $2 "
                "WHERE complaint_id = $1 AND key IS NOT NULL",
                complaint_id,
                reason,
            )
        erased = status.endswith(" 1")
        log.info("personal_key_erased", complaint_id=str(complaint_id), erased=erased)
        return erased
