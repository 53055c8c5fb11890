"""The API's front edge as deployed behind proxies: who a client is, and which bucket each request spends.

The test server listens on 127.0.0.1, so the TCP peer is 127.0.0.1: trusting 127.0.0.0/8 plays the load
balancer in front of the API, trusting nothing plays a client that reaches the API directly.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from projections.migrate import migrate
from services.api import ratelimit
from tests.integration.api.conftest import MakeClient

Client = TestClient[web.Request, web.Application]
URL = "/api/v1/complaints"
BODY = {"channel": "web", "description": "Power out on the whole street"}
TIGHT = ratelimit.Bucket(rate=0.001, burst=2)  # two at once, then nothing for the rest of the test
LOCAL = ("127.0.0.0/8", "::1/128")


async def file(client: Client, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    response = await client.post(URL, json=BODY, headers=headers)
    if response.status == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    make_client: MakeClient,
) -> None:
    client = await make_client(limits=ratelimit.RateLimits(public=TIGHT), trusted_proxies=LOCAL)
    assert [await file(client, "203.0.113.5") for _ in range(3)] == [201, 201, 429]
    # Another citizen behind the same proxy files on: one flood does not lock out the city.
    assert await file(client, "203.0.113.6") == 201
    # A chain through two of our proxies is the same client; so is one the client started with a forgery:
    # only the right-most address a trusted proxy did not write counts.
    assert await file(client, "203.0.113.5, 127.0.0.2") == 429
    assert await file(client, "198.51.100.1, 203.0.113.5") == 429
    assert await file(client, "[::ffff:203.0.113.7]:4711") == 201


async def test_an_ipv6_client_is_its_slash_64(make_client: MakeClient) -> None:
    """One subscriber is given a whole /64: a new address from it each time buys no new bucket (found by a
    review: 1,000 addresses of one /64 filed 1,000 complaints through a limit of 60 at once)."""
    client = await make_client(limits=ratelimit.RateLimits(public=TIGHT), trusted_proxies=LOCAL)
    home = [f"2001:db8:1:2::{n:x}" for n in range(1, 4)]
    assert [await file(client, address) for address in home] == [201, 201, 429]
    assert await file(client, "[2001:db8:1:2:ffff::1]:443") == 429
    assert await file(client, "2001:db8:1:3::1") == 201  # the next /64: another subscriber


async def test_from_an_untrusted_peer_the_header_is_ignored(make_client: MakeClient) -> None:
    client = await make_client(limits=ratelimit.RateLimits(public=TIGHT))  # no trusted proxies
    assert [await file(client, f"203.0.113.{n}") for n in range(2)] == [201, 201]
    # A new forged address each time does not buy a new bucket: the peer is the client.
    assert await file(client, "203.0.113.99") == 429
    assert await file(client) == 429


async def test_status_lookups_do_not_spend_the_right_to_file(
    make_client: MakeClient, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)  # the read models status lookups read
    finally:
        await conn.close()
    client = await make_client(limits=ratelimit.RateLimits(public=TIGHT, status=TIGHT))

    async def look() -> int:
        return (await client.get("/api/v1/status/LV-000000")).status

    assert [await look() for _ in range(3)] == [404, 404, 429]  # a citizen re-checking, too eagerly
    assert [await file(client) for _ in range(3)] == [201, 201, 429]  # still files: intake has its own bucket
    assert await look() == 429


async def test_open311_reads_guess_tracking_codes_no_faster_than_status_lookups(
    make_client: MakeClient, database_url: str
) -> None:
    """A tracking code opens a complaint's public status: Open311's reads may not list them or test them in bulk."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    client = await make_client(limits=ratelimit.RateLimits(status=TIGHT))

    async def look(ids: str) -> tuple[int, list[dict[str, object]]]:
        response = await client.get("/open311/v2/requests.json", params={"service_request_id": ids})
        return response.status, await response.json()

    guesses = ",".join(f"LV-{n:06d}" for n in range(11))
    status, errors = await look(guesses)
    assert status == 400 and "at most 10 tracking codes" in str(errors[0]["description"]), errors
    assert (await look("LV-000001"))[0] == 200  # TIGHT: a burst of two
    assert (await look("LV-000002"))[0] == 200
    status, errors = await look("LV-000003")
    assert status == 429 and errors[0]["code"] == 429, errors
    assert (await client.get("/open311/v2/requests/LV-000004.json")).status == 429
    assert (await client.get("/api/v1/status/LV-000005")).status == 429  # one bucket for both ways in
    # Complaint ids are not guessable: they cost nothing.
    assert (await look("6a8f1a3e-3b1c-4c55-9f0e-111111111111"))[0] == 200


async def test_a_deployment_sets_the_limits_and_gives_shared_addresses_more(make_client: MakeClient) -> None:
    """In a typhoon many residents reach the API from one address: a mobile carrier's NAT, a shelter's Wi-Fi.
    Throttled as one client, the 61st complaint from a shelter was refused. LEVEE_RATE_LIMITS sets the limits,
    LEVEE_SHARED_ADDRESSES names the shared addresses, whose clients get LEVEE_SHARED_ADDRESS_FACTOR times them."""
    client = await make_client(
        limits=ratelimit.RateLimits(), trusted_proxies=LOCAL, rate_limits=(("intake", 0.001, 2.0),),
        shared_addresses=("198.51.100.0/24",), shared_address_factor=3.0,
    )  # fmt: skip
    assert [await file(client, "203.0.113.5") for _ in range(3)] == [201, 201, 429]
    assert [await file(client, "198.51.100.7") for _ in range(7)] == [201] * 6 + [429]
    # Another address in the shared block is its own client, with its own (larger) bucket.
    assert await file(client, "198.51.100.8") == 201


async def test_a_shared_address_files_more_but_looks_up_no_faster(
    make_client: MakeClient, database_url: str
) -> None:
    """The factor is for filing: a status lookup guesses tracking codes, and anyone at a shelter's Wi-Fi could
    guess twenty times faster (found by a review)."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)  # the read models status lookups read
    finally:
        await conn.close()
    client = await make_client(
        limits=ratelimit.RateLimits(status=TIGHT), trusted_proxies=LOCAL, shared_addresses=("198.51.100.0/24",),
        shared_address_factor=3.0,
    )  # fmt: skip
    headers = {"X-Forwarded-For": "198.51.100.7"}
    looks = [(await client.get("/api/v1/status/LV-000000", headers=headers)).status for _ in range(3)]
    assert looks == [404, 404, 429]
