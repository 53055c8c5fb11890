"""Erasing a key keeps the reporter's fingerprints in the same row, by the same statement, and never a value."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.personal import PersonalData, seal
from events.publishing.erased_fingerprints import KnownPersonalData
from events.publishing.redaction import find_personal_data
from events.store.keys import PersonalKeyStore

DATA = PersonalData(name="Quorinda Vexhallow", phone="+852 6987 4321", address="77 Marrowfield Lane")
# personal_data_keys as databases made before fingerprints have it.
OLD_SCHEMA = """
CREATE TABLE personal_data_keys (
    complaint_id  uuid PRIMARY KEY,
    key           bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    erased_at     timestamptz,
    erased_reason text,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
"""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def test_an_erasure_on_an_old_database_keeps_fingerprints_in_the_row_it_nulls(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(OLD_SCHEMA)
    old, erased = uuid.uuid4(), uuid.uuid4()
    keys = PersonalKeyStore(pool)
    await keys.put(old, os.urandom(32))
    async with pool.acquire() as conn:  # erased as the code before fingerprints did
        await conn.execute(
            "UPDATE personal_data_keys SET key = NULL, erased_at = now(), erased_reason = 'asked' "
            "WHERE complaint_id = $1",
            old,
        )
    assert await keys.erased_fingerprints([old]) is None  # no column yet: nothing kept, nothing to check

    await keys.create_schema()  # as the API does before every first erasure
    await keys.put(erased, key := os.urandom(32))
    assert await keys.erase(erased, "asked to be forgotten", seal(DATA, key)) is True
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM personal_data_keys WHERE complaint_id = $1", erased)
    assert row["key"] is None and row["erased_fingerprints"], dict(row)
    stored = " ".join(row["erased_fingerprints"]).casefold()
    assert not any(part in stored for part in ("quorinda", "vexhallow", "marrowfield", "6987", "4321"))

    fingerprints = await PersonalKeyStore(pool).erased_fingerprints([old, erased, uuid.uuid4()])
    assert fingerprints is not None  # another process reads them with the secret the first erasure made
    findings = find_personal_data("Quorinda Vexhallow, 6987 4321", KnownPersonalData([], fingerprints))
    assert [f.kind for f in findings] == ["erased_complainant"] * 2
    assert await keys.erase(erased, "again", seal(DATA, os.urandom(32))) is False  # the first ones stay
