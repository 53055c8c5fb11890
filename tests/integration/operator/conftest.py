"""The real API in-process over the test's stream and database, with a projector the test drives (`project()`)
and tokens minted through the API's own token store. Structlog output is captured so tests can search it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
import structlog
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from events.store import JetStreamEventStore
from projections.migrate import migrate
from projections.runner import ProjectionRunner
from services.api import keys
from services.api.app import build_app
from services.settings import Settings
from tests.support.tokens import RoleTokens
from tests.support.waiting import wait_until

SECRET = b"operator-tests-secret-0123456789abcdef"
PHONE = "+86 139 1234 5678"
PHONE_FORMS = ("139 1234 5678", "13912345678", "8613912345678", "1234 5678", "12345678")


@dataclass
class Console(RoleTokens):
    client: TestClient
    store: JetStreamEventStore
    runner: ProjectionRunner
    conn: asyncpg.Connection
    logs: io.StringIO
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(
        self, method: str, path: str, role: str | None = "operator", **kwargs: Any
    ) -> ClientResponse:
        headers = {"Authorization": f"Bearer {await self.token(role)}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(
        self, method: str, path: str, role: str | None = "operator", status: int = 200, **kw: Any
    ) -> Any:
        response = await self.call(method, path, role, **kw)
        assert response.status == status, (response.status, await response.text())
        return await response.json()

    async def project(self) -> int:
        return await self.runner.catch_up()


def hotline_call(description: str, *, phone: str = PHONE, **extra: Any) -> dict[str, Any]:
    return {
        "channel": "hotline",
        "description": description,
        "category": "power_outage",
        "location": {"district": "riverside"},
        "reporter": {"name": "Chen Jianguo", "phone": phone},
        **extra,
    }


@pytest.fixture
async def console(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Console]:
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=_Tee(logs)),
    )
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        runner = ProjectionRunner(store, conn)
        await runner.start()
        settings = Settings(
            nats_url=nats_url,
            database_url=database_url,
            nats_stream=store.spec.name,
            contact_hash_secret=SECRET,
        )
        async with TestClient(TestServer(build_app(settings))) as client:
            await wait_until(lambda: client.app[keys.NATS_LINK].stream_ready, "the API's NATS link")
            yield Console(client, store, runner, conn, logs)
    finally:
        structlog.configure(**previous)
        root.removeHandler(handler)
        await conn.close()


class _Tee:
    """structlog's output into the captured buffer (tests search it for personal data)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def flush(self) -> None:
        pass


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
