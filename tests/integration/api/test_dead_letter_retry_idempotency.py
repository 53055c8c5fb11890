"""Idempotency-Key on re-driving a dead letter (POST /api/v1/dead-letters/{worker}/{event_position}/retry),
against real NATS and PostgreSQL: a keyed retry whose answer was lost is answered with the first request's
acceptance (`Idempotent-Replayed: true`, the retry's state as it is now), never with a 409 or a second redrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore, RequestMark
from services.runtime import redrive
from tests.integration.api.test_dead_letter_retry import RETRY, Desk
from tests.integration.pages.harness import read_api
from tests.integration.runtime.test_redrive import NOW, Cause, position_of
from tests.support.toy import Counter, Tally
from tests.support.toy import mapper as toy_mapper

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"

Answer = tuple[int, dict[str, Any], bool]  # status, body, replayed


@pytest.fixture
async def desk(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Desk]:
    async with read_api(store, nats_url, database_url) as harness:
        toys = AggregateStore(store, toy_mapper())
        await toys.save(Tally())
        yield Desk(harness, store, Cause("flaky", "stubborn"), toys)


async def retry(desk: Desk, position: int, key: str | None) -> Answer:
    headers = await desk.harness.headers("command")
    if key is not None:
        headers[KEY] = key
    response = await desk.harness.client.post(RETRY.format(worker="toy", position=position), headers=headers)
    return response.status, await response.json(content_type=None), response.headers.get(REPLAYED) == "true"


async def requests(desk: Desk) -> int:
    """Retry requests stored for the toy worker."""
    return len(await desk.store.read_subject(desk.store.spec.retry_subject("toy")))


async def set_aside(desk: Desk, name: str) -> int:
    await desk.toys.save(Counter(name=name))
    await desk.worker_drains()
    return await position_of(desk.store, name)


async def test_a_keyed_retry_asked_again_before_the_worker_ran_answers_the_first_acceptance(
    desk: Desk,
) -> None:
    flaky = await set_aside(desk, "flaky")
    first = await retry(desk, flaky, "redrive-key-0001")
    assert first[0] == 202 and not first[2], first
    again = await retry(desk, flaky, "redrive-key-0001")
    assert again[0] == 202 and again[2], again
    assert again[1] == first[1] and again[1]["retry_state"] == "pending"
    assert await requests(desk) == 1
    unkeyed = await retry(desk, flaky, None)  # without the key: a new ask, refused while one waits
    assert (unkeyed[0], unkeyed[1]["code"]) == (409, "retry_pending"), unkeyed


async def test_a_keyed_retry_asked_again_after_it_failed_again_asks_for_no_second_redrive(desk: Desk) -> None:
    stubborn = await set_aside(desk, "stubborn")
    first = await retry(desk, stubborn, "redrive-key-0002")  # the cause is not fixed
    assert first[0] == 202, first
    await desk.worker_drains()  # it fails again: a newer dead letter
    again = await retry(desk, stubborn, "redrive-key-0002")
    assert again[0] == 202 and again[2], again
    assert again[1] == {**first[1], "retry_state": "failed"}
    assert await requests(desk) == 1, "no second redrive"


async def test_a_keyed_retry_asked_again_after_it_succeeded_is_answered_not_refused(desk: Desk) -> None:
    flaky = await set_aside(desk, "flaky")
    desk.cause.failing.discard("flaky")
    first = await retry(desk, flaky, "redrive-key-0003")
    await desk.worker_drains()
    assert await desk.tally() == ["flaky"]
    again = await retry(desk, flaky, "redrive-key-0003")
    assert again[0] == 202 and again[2], again
    assert again[1] == {**first[1], "retry_state": "succeeded"}
    unkeyed = await retry(desk, flaky, None)
    assert (unkeyed[0], unkeyed[1]["code"]) == (409, "already_retried"), unkeyed


async def test_identical_keyed_retries_at_once_store_one_request(desk: Desk) -> None:
    flaky = await set_aside(desk, "flaky")
    await desk.harness.headers("command")  # the token made once, before the race
    answers = await asyncio.gather(*(retry(desk, flaky, "redrive-key-0004") for _ in range(3)))
    assert {status for status, _, _ in answers} == {202}, answers
    assert sum(not replayed for _, _, replayed in answers) == 1, answers
    assert len({answer["position"] for _, answer, _ in answers}) == 1
    assert await requests(desk) == 1


async def test_the_same_key_on_another_dead_letter_is_another_request(desk: Desk) -> None:
    flaky = await set_aside(desk, "flaky")
    stubborn = await set_aside(desk, "stubborn")
    first = await retry(desk, flaky, "redrive-key-0005")
    other = await retry(desk, stubborn, "redrive-key-0005")
    assert first[0] == other[0] == 202 and not other[2], (first, other)
    again = await retry(desk, stubborn, "redrive-key-0005")
    assert again[0] == 202 and again[2] and again[1]["position"] == other[1]["position"], again
    assert await requests(desk) == 2


async def test_redrive_answers_a_request_of_the_same_scope_with_the_earlier_mark_and_stores_nothing(
    desk: Desk,
) -> None:
    """The API compares the fingerprints (422 when they differ): redrive hands it the earlier mark."""
    flaky = await set_aside(desk, "flaky")
    earlier = RequestMark("a" * 32, "1" * 16)
    first = await redrive.request_retry(desk.store, "toy", flaky, by="test desk", at=NOW, request=earlier)
    assert first.replay_of is None and first.state == "pending"
    other_body = RequestMark("a" * 32, "2" * 16)
    again = await redrive.request_retry(desk.store, "toy", flaky, by="test desk", at=NOW, request=other_body)
    assert (again.replay_of, again.position, again.state) == (earlier, first.position, "pending")
    assert await requests(desk) == 1
