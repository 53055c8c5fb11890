"""The personal-data key store against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.store.keys import PersonalKeyStore


@pytest.fixture
async def keys(database_url: str) -> AsyncIterator[PersonalKeyStore]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        store = PersonalKeyStore(pool)
        await store.create_schema()
        yield store
    finally:
        await pool.close()


async def test_concurrent_puts_are_all_committed(keys: PersonalKeyStore) -> None:
    items = {uuid.uuid4(): os.urandom(32) for _ in range(500)}
    answered = await asyncio.gather(*(keys.put(cid, key) for cid, key in items.items()))
    assert answered == list(items.values())  # each put answers the key it stored
    assert await keys.get_many(items) == items


async def test_twins_putting_at_once_both_get_the_first_key(keys: PersonalKeyStore) -> None:
    """An idempotent request and its retry, racing: both must seal with the one key that is stored."""
    complaint = uuid.uuid4()
    answered = await asyncio.gather(*(keys.put(complaint, os.urandom(32)) for _ in range(3)))
    assert answered == [await keys.get(complaint)] * 3
    assert await keys.put(complaint, os.urandom(32)) == answered[0]  # and a later retry too


async def test_erased_key_is_gone_and_erasing_twice_reports_nothing_to_do(keys: PersonalKeyStore) -> None:
    complaint = uuid.uuid4()
    await keys.put(complaint, os.urandom(32))
    assert await keys.erase(complaint, "reporter asked to be forgotten") is True
    assert await keys.get(complaint) is None
    assert await keys.get_many([complaint]) == {}
    assert await keys.erase(complaint, "again") is False
    assert await keys.put(complaint, os.urandom(32)) is None  # an erased key is not replaced


async def test_unknown_complaint_has_no_key(keys: PersonalKeyStore) -> None:
    assert await keys.get(uuid.uuid4()) is None


async def test_a_key_cannot_be_replaced_once_stored(keys: PersonalKeyStore) -> None:
    complaint = uuid.uuid4()
    first = os.urandom(32)
    await keys.put(complaint, first)
    await keys.put(complaint, os.urandom(32))
    assert await keys.get(complaint) == first
