"""Staff tokens: minted by `levee token create`, stored as a hash, checked on every request, revocable."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.api.auth import TOKENS
from services.api.tokens import CACHE_TTL, TokenStore
from services.cli_tokens import create_token, revoke_token
from services.settings import Settings
from tests.integration.api.conftest import MakeClient
from tests.support.waiting import wait_until

LEVEE = Path(sys.executable).parent / "levee"
TOKEN = re.compile(r"lvt_[A-Za-z0-9_-]{43}")
CLOSE = "/api/v1/complaints/00000000-0000-4000-8000-000000000000/close"
REVOKED_WITHIN = CACHE_TTL / 4  # well inside the cache's lifetime: only the revocation notice can explain it


def levee_token_create(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return levee_token(database_url, "create", *args)


def levee_token(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEE_") and k != "NATS_URL"}
    env |= {"DATABASE_URL": database_url, "LEVEE_LOG_FORMAT": "json"}
    return subprocess.run(
        [str(LEVEE), "token", *args],
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


@pytest.mark.parametrize("name", ["dispatch", "Triage", " deadline_watcher "])
async def test_levee_token_create_refuses_a_services_own_name(database_url: str, name: str) -> None:
    """Staff act under the token's name: under a service's, a person's words would be kept after an erasure as
    the system's, and an escalation counted as a recorded missed deadline (found by a review)."""
    done = levee_token_create(database_url, "--role", "command", "--name", name)
    assert done.returncode == 2 and done.stdout == ""
    assert "what a Levee service writes as its own name" in done.stderr


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
    with structlog.testing.capture_logs() as captured:
        assert (await client.post(CLOSE, json={}, headers=headers)).status == 401
    # The leaked token's tries can be found in the log (docs/operations.md, section 8).
    [line] = [r for r in captured if r["event"] == "http_request"]
    assert (line["status"], line["problem"]) == (401, "unauthenticated")


async def test_lookups_are_cached_only_while_revocations_are_heard(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    store = TokenStore(pool)
    watcher = asyncio.create_task(store.watch_revocations(database_url))
    try:
        await wait_until(lambda: store.listening, "the revocation listener")
        token, record = await store.create("press", "Press desk")
        assert await store.lookup(token) is not None
        # Revoked behind the store's back, without a notification: the cache trusts its answer for the TTL,
        # the bound on a notification lost with a dead connection.
        await revoke_silently(pool, record.token_id)
        principal = await store.lookup(token)
        assert principal is not None and principal.role == "press" and principal.token_id == record.token_id
        assert await TokenStore(pool).lookup(token) is None  # a store that is not listening asks every time
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await pool.close()
    assert not store.listening


async def revoke_silently(pool: asyncpg.Pool, token_id: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", token_id)


async def test_levee_token_revoke_refuses_the_token_at_once_in_the_running_api(
    client: TestClient[web.Request, web.Application], api_settings: Settings
) -> None:
    out = io.StringIO()
    assert await create_token(api_settings, role="operator", name="Harbour desk", out=out) == 0
    headers = {"Authorization": f"Bearer {out.getvalue().strip()}"}
    store = client.app[TOKENS]
    await wait_until(lambda: store.listening, "the API's revocation listener")
    for _ in range(2):  # the second answer comes from the API's cache
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status == 200 and (await response.json())["role"] == "operator"
    [record] = [r for r in await store.records() if r.name == "Harbour desk"]

    assert await revoke_token(api_settings, record.token_id) == 0  # another process: `levee token revoke`
    deadline = asyncio.get_running_loop().time() + REVOKED_WITHIN
    while (response := await client.get("/api/v1/me", headers=headers)).status == 200:
        assert asyncio.get_running_loop().time() < deadline, f"still let in {REVOKED_WITHIN}s after revoking"
        await asyncio.sleep(0.02)
    assert response.status == 401
    assert await revoke_token(api_settings, record.token_id) == 1, "revoked twice"


async def test_levee_token_list_shows_ids_roles_and_dates_never_the_token(database_url: str) -> None:
    done = levee_token_create(database_url, "--role", "command", "--name", "Night command")
    token = done.stdout.strip()
    listed = levee_token(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["TOKEN_ID", "ROLE", "CREATED", "REVOKED", "NAME"]
    token_id, role, created, revoked, *name = row.split()
    assert token_id.startswith("tok_") and created.endswith("Z")
    assert (role, revoked, " ".join(name)) == ("command", "-", "Night command")
    assert token not in listed.stdout + listed.stderr
    assert hashlib.sha256(token.encode()).hexdigest() not in listed.stdout
    # The token pasted where its id belongs: refused, and written nowhere (it once went into two log lines).
    pasted = levee_token(database_url, "revoke", token)
    assert pasted.returncode == 1 and token not in pasted.stdout + pasted.stderr
    assert "not its id" in pasted.stdout + pasted.stderr

    assert levee_token(database_url, "revoke", token_id).returncode == 0
    [row] = levee_token(database_url, "list").stdout.splitlines()[1:]
    assert row.split()[3] != "-"
    assert levee_token(database_url, "revoke", "tok_unknown").returncode == 1
