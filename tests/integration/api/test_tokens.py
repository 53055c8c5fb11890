"""Staff tokens: minted by `levee token create`, stored as a hash, checked on every request, revocable."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.api.auth import TOKENS
from services.api.tokens import TokenStore
from tests.integration.api.conftest import MakeClient

LEVEE = Path(sys.executable).parent / "levee"
TOKEN = re.compile(r"lvt_[A-Za-z0-9_-]{43}")
CLOSE = "/api/v1/complaints/00000000-0000-4000-8000-000000000000/close"


def levee_token_create(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEE_") and k != "NATS_URL"}
    env |= {"DATABASE_URL": database_url, "LEVEE_LOG_FORMAT": "json"}
    return subprocess.run(
        [str(LEVEE), "token", "create", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_levee_token_create_prints_the_token_alone_and_stores_only_its_hash(database_url: str) -> None:
    done = levee_token_create(database_url, "--role", "department:water", "--name", "Water duty desk")
    assert done.returncode == 0, done.stderr
    assert TOKEN.fullmatch(done.stdout.rstrip("\n")), repr(done.stdout)
    token = done.stdout.strip()
    assert token not in done.stderr, "the token must never be logged"
    conn = await asyncpg.connect(database_url)
    try:
        rows = [dict(row) for row in await conn.fetch("SELECT * FROM api_tokens")]
    finally:
        await conn.close()
    assert len(rows) == 1
    [row] = rows
    assert (
        row["role"] == "department:water" and row["name"] == "Water duty desk" and row["revoked_at"] is None
    )
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert all(token not in str(value) for value in row.values())


async def test_levee_token_create_refuses_an_unknown_department(database_url: str) -> None:
    done = levee_token_create(database_url, "--role", "department:atlantis", "--name", "Nobody")
    assert done.returncode == 2 and done.stdout == ""
    assert "atlantis" in done.stderr


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[web.Request, web.Application]:
    return await make_client()


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer lvt_made_up_token_that_was_never_issued_0000000000",
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
async def test_a_bad_token_is_401_with_a_bearer_challenge(
    client: TestClient[web.Request, web.Application], authorization: str
) -> None:
    for path in (CLOSE, "/api/v1/complaints"):  # a staff route and public intake alike
        response = await client.post(path, json={}, headers={"Authorization": authorization})
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        problem = await response.json(content_type=None)
        assert problem["status"] == 401 and problem["code"] == "unauthenticated"


async def test_a_revoked_token_is_refused_at_once_by_this_process(
    client: TestClient[web.Request, web.Application],
) -> None:
    store = client.app[TOKENS]
    token, record = await store.create("command", "Night command")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post(CLOSE, json={}, headers=headers)).status == 404  # let in: no such case
    assert await store.revoke(record.token_id)
    assert (await client.post(CLOSE, json={}, headers=headers)).status == 401


async def test_lookups_are_cached_briefly_then_asked_again(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        cached, uncached = TokenStore(pool), TokenStore(pool, ttl=0.0)
        token, record = await cached.create("press", "Press desk")
        assert (await cached.lookup(token)) == (await uncached.lookup(token))
        # Revoked behind the stores' backs (another API process): the cache trusts its answer for the TTL.
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", record.token_id
            )
        principal = await cached.lookup(token)
        assert principal is not None and principal.role == "press" and principal.token_id == record.token_id
        assert await uncached.lookup(token) is None
    finally:
        await pool.close()
