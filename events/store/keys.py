"""Per-complaint encryption keys for personal data, kept outside the stream in PostgreSQL.

Erasing a key (crypto-shredding) leaves every event in place and makes the reporter unreadable everywhere,
replays included, because nothing else can decrypt the sealed fields. What the redaction guard must still
refuse to publish about the person is kept as keyed fingerprints in the same row, written by the statement
that erases the key (events.publishing.erased_fingerprints).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from events.personal import unseal
from events.publishing.erased_fingerprints import ErasedFingerprints
from events.publishing.redaction import fingerprint
from events.store.gathering import Gatherer
from events.store.tables import create_tables

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
-- A database made before fingerprints gets the column. Looked up first: ALTER TABLE locks the table against
-- intake's key inserts even when the column is there, and every API process runs this once.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'personal_data_keys'::regclass
                   AND attname = 'erased_fingerprints' AND NOT attisdropped) THEN
        ALTER TABLE personal_data_keys ADD COLUMN IF NOT EXISTS erased_fingerprints text[];
    END IF;
END $$;
-- The one secret every fingerprint is keyed with (see PersonalKeyStore.erase).
CREATE TABLE IF NOT EXISTS personal_data_fingerprint_secret (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL
);
"""
SECRET_BYTES = 32


class PersonalKeyStore:
    """Keys by complaint id. Concurrent `put`s are gathered into one INSERT, like group commit."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._puts: Gatherer[tuple[UUID, bytes], bytes | None] = Gatherer(self._put_many)
        self._secret: bytes | None = None  # never changes once stored: read once

    async def create_schema(self) -> None:
        async with self.pool.acquire() as conn:
            await create_tables(conn, SCHEMA)

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

    async def erase(self, complaint_id: UUID, reason: str, sealed: str | None = None) -> bool:
        """Destroy the key for good. True if a key was erased now, False if none or already erased.

        ``sealed``: the complaint's reporter data. Opened with the key first, it leaves the fingerprints of what
        the redaction guard looks for (name, address, phone, email), written by the one statement that nulls
        the key: never a moment with neither. A complaint erased before fingerprints existed has none, and
        nothing can make them now."""
        async with self.pool.acquire() as conn:
            fingerprints = None
            if sealed is not None:
                # Read apart from the UPDATE: a key only ever goes from set to NULL, so the key read here is
                # the one the UPDATE nulls, or the UPDATE finds none (a racing erasure) and writes nothing.
                key = await conn.fetchval(
                    "SELECT key FROM personal_data_keys WHERE complaint_id = $1", complaint_id
                )
                fingerprints = await self._fingerprints(conn, complaint_id, sealed, _key(key))
            status = await conn.execute(
                "UPDATE personal_data_keys SET key = NULL, erased_at = now(), erased_reason = $2, "
                "erased_fingerprints = $3 WHERE complaint_id = $1 AND key IS NOT NULL",
                complaint_id, reason, fingerprints,
            )  # fmt: skip
        erased = status.endswith(" 1")
        log.info(
            "personal_key_erased",
            complaint_id=str(complaint_id),
            erased=erased,
            fingerprinted=bool(fingerprints),
        )
        return erased

    async def _fingerprints(
        self, conn: asyncpg.Connection, complaint_id: UUID, sealed: str, key: bytes | None
    ) -> list[str] | None:
        try:
            data = unseal(sealed, key)
        except ValueError as exc:
            # The person asked to be forgotten: the key goes all the same, without fingerprints, and someone
            # must know that the guard cannot find their name.
            log.error("erased_without_fingerprints", complaint_id=str(complaint_id), error=str(exc))
            return None
        if data is None:
            return None  # erased already (the UPDATE will say so) or never stored
        values = data.guarded()
        if not values:
            return None
        return fingerprint(values, await self._secret_of(conn, create=True)) or None  # [] for a lone letter

    async def erased_fingerprints(self, complaint_ids: Iterable[UUID]) -> ErasedFingerprints | None:
        """The fingerprints of those of the complaints erased with fingerprints; None when there are none."""
        ids = list(complaint_ids)
        async with self.pool.acquire() as conn:
            try:
                rows = await conn.fetch(
                    "SELECT erased_fingerprints FROM personal_data_keys WHERE complaint_id = ANY($1::uuid[]) "
                    "AND erased_fingerprints IS NOT NULL",
                    ids,
                )
            except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
                return None  # no erasure since fingerprints came: erasing makes the schema first
            if not rows:
                return None
            secret = await self._secret_of(conn, create=False)
        return ErasedFingerprints(secret, frozenset(e for row in rows for e in row["erased_fingerprints"]))

    async def _secret_of(self, conn: asyncpg.Connection, *, create: bool) -> bytes:
        """The key store's own secret, made by the first erasure, in PostgreSQL beside the fingerprints.

        Not the contact secret (LEVEE_CONTACT_SECRET), though it would keep the fingerprints useless to someone
        who has a copy of the database alone: the key store cannot reach it (the API makes its stores from the
        pool alone), and a deployment may run without one, which would leave erased people unguarded. The
        cost: whoever holds a copy of this database can test guesses of an erased person's name or phone
        against their fingerprints, as anyone holding the contact secret can test a phone against the
        contact hash that the events keep."""
        if self._secret is None:
            if create:
                await conn.execute(
                    "INSERT INTO personal_data_fingerprint_secret (secret) VALUES ($1) ON CONFLICT DO NOTHING",
                    os.urandom(SECRET_BYTES),
                )
            # A separate statement: an insert that lost to a racing one does not see the winner's row.
            stored = await conn.fetchval("SELECT secret FROM personal_data_fingerprint_secret")
            if stored is None:
                raise LookupError("erased fingerprints are stored but their secret is not")
            self._secret = bytes(stored)
        return self._secret


def _key(stored: Any) -> bytes | None:
    return bytes(stored) if stored is not None else None
