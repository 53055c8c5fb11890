"""Open311's list by filters is read without a token and answers up to 1,000 requests a time: one reader
looping on it slowed every other route of the API (found by a security review: six loops took the reference
data's p50 from 1.9 ms to 60 ms). It spends a bucket of its own per client address; lookups by id, status
lookups and filing keep theirs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from events.store import JetStreamEventStore
from services.api import ratelimit
from tests.integration.pages.harness import Harness, read_api

LIST = "/open311/v2/requests.json"


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_one_client_listing_in_a_loop_is_slowed_and_told_when_to_come_back(api: Harness) -> None:
    assert ratelimit.RateLimits().listing == ratelimit.Bucket(
        rate=1.0, burst=20.0
    )  # the default, as api.md says
    # The same burst refilling at one in 1,000 s: the refusal cannot depend on how fast the machine answers.
    limiter = api.client.app[ratelimit.LIMITER]
    burst = 20
    limiter.limits = dataclasses.replace(limiter.limits, listing=ratelimit.Bucket(rate=0.001, burst=burst))
    for _ in range(burst):
        listed = await api.client.get(LIST)
        assert listed.status == 200, await listed.text()
        assert len(await listed.json()) == len(api.day.complaints)
    refused = await api.client.get(LIST, params={"status": "open"})
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    [error] = await refused.json()
    assert error["code"] == 429 and "request lists" in error["description"]
    # The same client's other reads are not held back by its lists.
    complaint = str(api.day.complaints["handling"])
    by_id = await api.client.get(LIST, params={"service_request_id": complaint})
    assert by_id.status == 200 and [r["service_request_id"] for r in await by_id.json()] == [complaint]
    assert (await api.client.get(f"/api/v1/status/{api.day.codes['handling']}")).status == 200
