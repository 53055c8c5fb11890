"""Clients that send slowly are cut off in bounded time, and everyone else is still served (slow_clients.py)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from events.store import JetStreamEventStore
from services.api import ratelimit
from services.api.app import run
from services.api.open311 import BASE as OPEN311
from services.embedded.ports import free_port
from services.settings import Settings
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_intake import GOOD, URL

DEADLINE = 0.5  # seconds, for the test; the defaults are 75 (headers, idleness) and 30 (body)
BOUND = 10.0  # seconds any answer or close may take here
PARTIAL_HEAD = b"POST /api/v1/complaints HTTP/1.1\r\nHost: levee\r\nContent-Type: application/json\r\n"


async def answer_to_a_stalled_request(
    client: TestClient[web.Request, web.Application], start: bytes
) -> tuple[bytes, bytes]:
    """Send `start` of a request and nothing more; the answer's head and body (read by its Content-Length)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(start)
        await writer.drain()
        async with asyncio.timeout(BOUND):
            head = await reader.readuntil(b"\r\n\r\n")
            [length] = [
                int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.startswith(b"Content-Length:")
            ]
            return head, await reader.readexactly(length)
    finally:
        writer.close()


async def test_a_body_that_stops_arriving_is_answered_408_and_nothing_is_stored(
    make_client: MakeClient, store: JetStreamEventStore
) -> None:
    client = await make_client(http_body_seconds=DEADLINE)
    head, body = await answer_to_a_stalled_request(
        client, PARTIAL_HEAD + b"Content-Length: 400\r\n\r\n" + b'{"channel": "web", '
    )
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert b"Content-Type: application/problem+json" in head
    # The rest of the body is read and dropped for 10 s at most (aiohttp's lingering), then the line closed.
    assert b"Connection: close" in head
    problem = json.loads(body)
    assert problem["code"] == "body_timeout" and f"within {DEADLINE:g} s" in problem["detail"]
    assert (await store.stream_state())["messages"] == 0

    # A client that sends its body at once is not affected.
    response = await client.post(URL, json=GOOD)
    assert response.status == 201, await response.text()


async def test_a_request_whose_headers_stop_arriving_is_closed_and_others_are_served(
    api_settings: Settings,
) -> None:
    settings = api_settings.replace(http_port=free_port(), http_idle_seconds=DEADLINE)
    stop = asyncio.Event()
    serving = asyncio.create_task(run(settings, stop))
    try:
        async with asyncio.timeout(BOUND):
            while True:  # until the API listens
                try:
                    reader, writer = await asyncio.open_connection(settings.http_host, settings.http_port)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
        try:
            writer.write(PARTIAL_HEAD)  # and never the blank line that ends the headers
            await writer.drain()
            async with asyncio.timeout(BOUND):
                assert await reader.read() == b"", "the server answered a request it never received whole"
        finally:
            writer.close()
        async with aiohttp.ClientSession() as session, session.get(f"{settings.base_url}/readyz") as ready:
            assert ready.status == 200
    finally:
        stop.set()
        await serving


async def test_an_open311_body_that_stops_arriving_is_answered_in_the_specs_error_array(
    make_client: MakeClient,
) -> None:
    client = await make_client(http_body_seconds=DEADLINE)
    head, body = await answer_to_a_stalled_request(
        client,
        b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: levee\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\nservice_code=106&",
    )
    assert head.startswith(b"HTTP/1.1 408 "), head
    [error] = json.loads(body)
    assert error["code"] == 408 and "did not arrive" in error["description"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"description=\xff\xfe&service_code=106"),  # not UTF-8
        ("application/x-www-form-urlencoded; charset=bogus", b"description=flood&service_code=106"),
    ],
    ids=["not utf-8", "unknown charset"],
)
async def test_an_open311_form_that_does_not_decode_is_a_400_in_the_specs_array(
    make_client: MakeClient, content_type: str, body: bytes
) -> None:
    client = await make_client()
    response = await client.post(
        f"{OPEN311}/requests.json", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == 400, await response.text()
    [error] = await response.json()
    assert error["code"] == 400 and "could not be read" in error["description"]


async def test_refused_bodies_cost_the_sender_its_rate_limit(make_client: MakeClient) -> None:
    two = ratelimit.RateLimits(public=ratelimit.Bucket(rate=0.001, burst=2))  # two, then none in this test
    client = await make_client(limits=two)
    oversized = json.dumps({**GOOD, "description": "x" * 70_000})
    for _ in range(2):
        response = await client.post(URL, data=oversized, headers={"Content-Type": "application/json"})
        assert response.status == 413 and (await response.json())["code"] == "body_too_large"
    response = await client.post(URL, json=GOOD)
    assert response.status == 429, await response.text()
