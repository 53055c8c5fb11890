"""NATS dies while complaints arrive: each client hears 201 or 503, and every 201 is in the stream after."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.keys import PersonalKeyStore
from events.store.stream import StreamSpec
from services.api import app
from services.embedded.nats_server import NatsServer
from services.embedded.ports import free_port
from services.settings import Settings
from tests.integration.api.conftest import MakeClient
from tests.support.waiting import wait_until, wait_until_async

URL = "/api/v1/complaints"
WORKERS = 8
RECOVERY_BOUND = 20.0


async def post_until(
    client: TestClient[web.Request, web.Application],
    done: asyncio.Event,
    results: list[tuple[int, dict[str, str]]],
) -> None:
    i = 0
    while not done.is_set():
        body = {
            "channel": "app",
            "description": f"Flooded basement {i}",
            "reporter": {"phone": "+852 5555 0000"},
        }
        response = await client.post(URL, json=body)
        if response.status == 503:
            assert response.headers["Retry-After"].isdigit()
        results.append((response.status, await response.json()))
        i += 1


async def test_nats_killed_mid_intake_loses_no_acknowledged_complaint(
    make_client: MakeClient, own_nats_server: NatsServer, stream_spec: StreamSpec, database_url: str
) -> None:
    client = await make_client(nats_url=own_nats_server.url)
    results: list[tuple[int, dict[str, str]]] = []
    done = asyncio.Event()
    workers = [asyncio.create_task(post_until(client, done, results)) for _ in range(WORKERS)]
    # Kill the broker once intake is demonstrably storing, and stop once it has demonstrably refused.
    await wait_until(lambda: sum(status == 201 for status, _ in results) >= 10, "complaints acknowledged", 30)
    await asyncio.to_thread(own_nats_server.kill)
    await wait_until(lambda: sum(status == 503 for status, _ in results) >= 5, "refusals after the kill", 30)
    done.set()
    await asyncio.gather(*workers)

    statuses = {status for status, _ in results}
    assert statuses <= {201, 503}, statuses
    acknowledged = [uuid.UUID(body["id"]) for status, body in results if status == 201]
    assert acknowledged, "the kill happened before any request: nothing was tested"

    await asyncio.to_thread(own_nats_server.start)
    nc = await connect_nats(own_nats_server.url, name="levee-test-readback")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = JetStreamEventStore(nc, stream_spec)
        for complaint_id in acknowledged:
            messages = await store.read_subject(store.spec.event_subject(complaint_id))
            assert len(messages) == 1, f"acknowledged complaint {complaint_id} not in the stream"
        # Never an event without its key: every stored complaint's key is in PostgreSQL.
        stored = await PersonalKeyStore(pool).get_many(acknowledged)
        assert set(stored) == set(acknowledged)

        deadline = time.monotonic() + RECOVERY_BOUND
        while (
            response := await client.post(URL, json={"channel": "web", "description": "after"})
        ).status != 201:
            assert response.status == 503 and time.monotonic() < deadline, "intake did not recover"
            await asyncio.sleep(0.2)
    finally:
        await pool.close()
        await nc.close()


async def test_with_nats_down_the_pod_stays_ready_and_intake_answers_503_with_retry_after(
    make_client: MakeClient, own_nats_server: NatsServer
) -> None:
    """Readiness is /readyz, not /healthz: an outage must reach clients as 503 + Retry-After, not as no pod."""
    client = await make_client(nats_url=own_nats_server.url)
    assert (await client.get("/readyz")).status == 200
    await asyncio.to_thread(own_nats_server.kill)
    deadline = time.monotonic() + RECOVERY_BOUND
    while (
        response := await client.post(URL, json={"channel": "web", "description": "outage"})
    ).status != 503:
        assert response.status == 201 and time.monotonic() < deadline, "intake did not notice NATS was gone"
        await asyncio.sleep(0.05)
    assert response.headers["Retry-After"].isdigit()
    assert (await response.json())["dependency"] == "NATS"  # the operator's console names it
    health = await client.get("/healthz")
    said = await health.json(content_type=None)
    assert health.status == 503 and "NATS" in said["detail"]
    assert said["code"] == "dependency_unavailable"  # as every dependency's 503 says it, for the pages
    ready = await client.get("/readyz")
    assert (ready.status, await ready.json()) == (200, {"status": "ready"})
    # One replica cut off while others may not be: a per-process gauge says so (alert LeveeApiCutOffFromNats).
    assert "levee_api_nats_connected 0.0" in await (await client.get("/metrics")).text()


async def test_a_replica_that_never_reached_nats_is_alive_but_not_ready(make_client: MakeClient) -> None:
    """A replica deployed with a wrong NATS_URL or password was ready at once: it took a share of every
    write (all 503s) for good, and a rolling update replaced the working replicas with it (found by a review of
    two replicas)."""
    client = await make_client(nats_url=f"nats://127.0.0.1:{free_port()}", wait_ready=False)
    ready = await client.get("/readyz")
    said = await ready.json()
    assert (ready.status, said["status"], ready.headers["Retry-After"]) == (503, "not_started", "5")
    assert "NATS" in said["detail"]
    assert (await client.get("/livez")).status == 200  # alive: not restarted for it
    assert "levee_api_nats_connected 0.0" in await (await client.get("/metrics")).text()


async def test_a_stopping_replica_is_unready_while_it_still_answers(api_settings: Settings) -> None:
    """Told to stop, the API closed its listener at once: requests a load balancer still sent it (Kubernetes
    takes a stopping pod out of its Service a moment later) were refused, and citizens got a proxy's 502."""
    settings = api_settings.replace(http_port=free_port(), http_drain_seconds=2.0)
    stop = asyncio.Event()
    serving = asyncio.create_task(app.run(settings, stop))
    async with aiohttp.ClientSession(base_url=settings.base_url) as session:

        async def ready_status() -> int | None:
            try:
                async with session.get("/readyz") as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                return None

        await wait_until_async(lambda: _is(ready_status(), 200), "the API ready")
        stop.set()
        await wait_until_async(lambda: _is(ready_status(), 503), "the API unready while draining")
        async with session.post(URL, json={"channel": "web", "description": "Flooded underpass"}) as response:
            assert response.status == 201  # still answered meanwhile
    async with asyncio.timeout(10):
        await serving


async def _is(status: Awaitable[int | None], wanted: int) -> bool:
    return await status == wanted
