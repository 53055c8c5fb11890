"""Idempotency claims gathered into one statement, against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.store.keys import PersonalKeyStore
from services.api.idempotency import IdempotencyStore, complaint_id_for
from services.api.problems import Problem


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database with the key and claim tables."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await PersonalKeyStore(pool).create_schema()
        await IdempotencyStore(pool).create_schema()
        yield pool
    finally:
        await pool.close()


@pytest.mark.parametrize("anonymous_first", [True, False], ids=["anonymous first", "reporter first"])
async def test_twins_in_one_statement_put_a_key_only_for_the_body_that_won(
    pool: asyncpg.Pool, anonymous_first: bool
) -> None:
    """Two requests with one Idempotency-Key and different bodies, gathered into one statement: the first wins
    the claim, and only its body may bring a personal-data key. The statement's guard cannot see a claim row it
    inserts itself: an anonymous complaint was given the refused twin's key (found by a review)."""
    claims = IdempotencyStore(pool)
    scope = uuid.uuid4().hex
    complaint_id = complaint_id_for(scope)
    anonymous = (scope, "anonymous", complaint_id, "LV-AAAAAA", None)
    with_reporter = (scope, "with-reporter", complaint_id, "LV-BBBBBB", b"k" * 32)
    items = [anonymous, with_reporter] if anonymous_first else [with_reporter, anonymous]
    held = await claims._claim_many(items)  # what the gatherer sends for two concurrent claims
    winner = items[0][1]
    assert [fingerprint for fingerprint, _, _ in held] == [winner, winner]
    keys = await pool.fetchval(
        "SELECT count(*) FROM personal_data_keys WHERE complaint_id = $1", complaint_id
    )
    assert keys == (0 if anonymous_first else 1)
    with pytest.raises(Problem):  # the loser hears 422 through `claim`
        await claims.claim(scope, items[1][1], items[1][3], personal_key=items[1][4])


async def test_a_retry_behind_a_twin_of_another_body_in_one_statement_gets_its_stored_key(
    pool: asyncpg.Pool,
) -> None:
    """The complaint was stored with its key before; now a request with the same key but another body comes
    first in one statement, then the genuine retry: the retry must get the key stored, not None (409 erased)."""
    claims = IdempotencyStore(pool)
    scope = uuid.uuid4().hex
    complaint_id = complaint_id_for(scope)
    stored = await claims.claim(scope, "with-reporter", "LV-AAAAAA", personal_key=b"k" * 32)
    assert stored.personal_key == b"k" * 32
    other = (scope, "anonymous", complaint_id, "LV-BBBBBB", None)
    retry = (scope, "with-reporter", complaint_id, "LV-CCCCCC", b"n" * 32)
    held = await claims._claim_many([other, retry])
    assert held[1] == ("with-reporter", "LV-AAAAAA", b"k" * 32)
