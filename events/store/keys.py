"""Per-complaint encryption keys for personal data, kept outside the stream in PostgreSQL.

Erasing a key (crypto-shredding) leaves every event in place and makes the reporter unreadable everywhere,
replays included, because nothing else can decrypt the sealed fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from events.store.gathering import Gatherer

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
        self._puts: Gatherer[tuple[UUID, bytes], bytes | None] = Gatherer(self._put_many)

    async def create_schema(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(SCHEMA)

    async def put(self, complaint_id: UUID, key: bytes) -> bytes | None:
        """Store a new key durably, unless the complaint has one; returns once committed, with the key the
        complaint now has: `key`, the one stored first (an idempotent retry, or its racing twin, must seal
        with that one, or the event that wins could not be decrypted), or None if it was erased.
        A key is written before the event it opens."""
        return await self._puts.submit((complaint_id, key))

    async def _put_many(self, items: list[tuple[UUID, bytes]]) -> list[bytes | None]:
        ids = [complaint_id for complaint_id, _ in items]
        in_order = sorted(items, key=lambda item: item[0])  # rows locked in one order by every API process
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "INSERT INTO personal_data_keys (complaint_id, key) "
                "SELECT * FROM unnest($1::uuid[], $2::bytea[]) ON CONFLICT (complaint_id) DO NOTHING "
                "RETURNING complaint_id, key",
                [complaint_id for complaint_id, _ in in_order], [key for _, key in in_order],
            )  # fmt: skip
            stored: dict[UUID, bytes | None] = {row["complaint_id"]: bytes(row["key"]) for row in rows}
            earlier = [complaint_id for complaint_id in ids if complaint_id not in stored]
            if earlier:
                # A separate statement: one started before a racing insert committed would not see its row.
                rows = await conn.fetch(
                    "SELECT complaint_id, key FROM personal_data_keys WHERE complaint_id = ANY($1::uuid[])",
                    earlier,
                )
                stored |= {row["complaint_id"]: _key(row["key"]) for row in rows}
        return [stored.get(complaint_id) for complaint_id in ids]

    async def get(self, complaint_id: UUID) -> bytes | None:
        """The key, or None when it was erased or never existed."""
        async with self.pool.acquire() as conn:
            key = await conn.fetchval(
                "SELECT key FROM personal_data_keys WHERE complaint_id = $1", complaint_id
            )
        return _key(key)

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


def _key(stored: Any) -> bytes | None:
    return bytes(stored) if stored is not None else None
