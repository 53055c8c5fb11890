"""An API app in-process over a test's own stream and database, with the read models kept by a runner the
test drives (`project()`), tokens minted through the API's own token store, and the scripted day loaded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from events.store import JetStreamEventStore
from projections.migrate import migrate
from projections.runner import ProjectionRunner
from services.api import keys, live
from services.api.app import build_app
from services.settings import Settings
from tests.integration.projections.day import Day, write_day
from tests.support.tokens import RoleTokens
from tests.support.waiting import wait_until

REPORTER = {"name": "Wang Xiaoming", "phone": "+86 138 0013 8000", "email": "wang.xm@example.org"}
PERSONAL = (
    "Wang Xiaoming",
    "138 0013 8000",
    "13800138000",
    "wang.xm@example.org",
    "Mr Zhang",
    "flat 3B",
    "Mrs Li",
)


@dataclass
class Harness(RoleTokens):
    client: TestClient
    store: JetStreamEventStore
    runner: ProjectionRunner
    day: Day
    tokens: dict[str, str] = field(default_factory=dict)

    async def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {await self.token(role)}"}

    async def get(self, path: str, role: str | None = None, **params: str) -> ClientResponse:
        return await self.client.get(path, headers=await self.headers(role), params=params)

    async def get_json(self, path: str, role: str | None = None, **params: str) -> Any:
        response = await self.get(path, role, **params)
        assert response.status == 200, (response.status, await response.text())
        return await response.json()

    async def project(self) -> int:
        return await self.runner.catch_up()

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a complaint through intake (the public, web channel)."""
        response = await self.client.post("/api/v1/complaints", json=body)
        assert response.status == 201, (response.status, await response.text())
        return await response.json()


def flood_report(**extra: Any) -> dict[str, Any]:
    return {
        "channel": "web",
        "description": "Water is inside the ground floor, two elderly neighbours are trapped upstairs",
        "category": "flooding",
        "location": {"lat": 22.71, "lon": 113.79, "address": "Block 7, 12 Riverside Road"},
        "people_affected": 2,
        "vulnerable": ["elderly"],
        "reporter": REPORTER,
        **extra,
    }


def assert_no_personal_data(payload: Any) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str, ensure_ascii=False)
    found = [item for item in PERSONAL if item.lower() in text.lower()]
    assert not found, f"personal data in a public/press response: {found}"


@asynccontextmanager
async def read_api(
    store: JetStreamEventStore, nats_url: str, database_url: str, **changes: Any
) -> AsyncIterator[Harness]:
    """The read API over a projected day; `changes` to its settings."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        runner = ProjectionRunner(store, conn)
        await runner.start()
        day = await write_day(store)
        await runner.catch_up()
        settings = Settings(
            nats_url=nats_url, database_url=database_url, nats_stream=store.spec.name,
            contact_hash_secret=b"read-api-tests-secret-0123456789abcdef",
        ).replace(**changes)  # fmt: skip
        async with TestClient(TestServer(build_app(settings))) as client:
            # Both background connections up before the test: closing the app while nats-py is still
            # connecting would leave its socket to be collected after the loop is gone.
            await wait_until(lambda: client.app[keys.NATS_LINK].stream_ready, "the API's NATS link")
            await wait_until(lambda: client.app[live.HUB].listening, "the LISTEN connection")
            yield Harness(client, store, runner, day)
    finally:
        await conn.close()
