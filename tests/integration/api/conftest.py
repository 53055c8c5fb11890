"""The real API (build_app) against the session's NATS and a fresh database, served in-process.

`api_client` is the app as deployed (default limits); `make_client(...)` builds another one, e.g. with a
tight rate limit, another NATS server, or over the same stream and database to play a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from events.store.stream import StreamSpec
from services.api import keys, ratelimit
from services.api.app import build_app
from services.settings import Settings

CONTACT_SECRET = b"test-contact-secret-0123456789abcdef"
OPEN311_KEY = "open311-test-key"
READY_BOUND = 15.0

MakeClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def api_settings(nats_url: str, database_url: str, stream_spec: StreamSpec) -> Settings:
    return Settings(
        nats_url=nats_url,
        database_url=database_url,
        nats_stream=stream_spec.name,
        contact_hash_secret=CONTACT_SECRET,
        service_name="levee-api-test",
        open311_api_keys=(OPEN311_KEY,),  # build_app serves them as app[open311.API_KEYS]
    )


@pytest.fixture
async def make_client(api_settings: Settings) -> AsyncIterator[MakeClient]:
    async with AsyncExitStack() as stack:

        async def make(
            *, limits: ratelimit.RateLimits | None = None, wait_ready: bool = True, **changes: Any
        ) -> TestClient[web.Request, web.Application]:
            app = build_app(api_settings.replace(**changes) if changes else api_settings)
            app[ratelimit.LIMITS] = limits or ratelimit.RateLimits(enabled=False)
            client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
            await stack.enter_async_context(client)
            if wait_ready:
                await stream_ready(app)
            return client

        yield make


async def stream_ready(app: web.Application) -> None:
    async with asyncio.timeout(READY_BOUND):
        while not (keys.NATS_LINK in app and app[keys.NATS_LINK].stream_ready):
            await asyncio.sleep(0.02)


@pytest.fixture
async def api_client(make_client: MakeClient) -> TestClient[web.Request, web.Application]:
    return await make_client()
