"""Gathered calls: each caller gets its own answer, every caller hears of a failure, none waits for ever."""

from __future__ import annotations

import asyncio

import pytest

from events.store.gathering import Gatherer


async def test_calls_that_arrive_together_share_a_flush_and_get_their_own_answers() -> None:
    flushes: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        flushes.append(items)
        await asyncio.sleep(0)
        return [item * 2 for item in items]

    gatherer: Gatherer[int, int] = Gatherer(double)
    assert await asyncio.gather(*(gatherer.submit(n) for n in range(10))) == [n * 2 for n in range(10)]
    assert sorted(n for flush in flushes for n in flush) == list(range(10))
    assert len(flushes) < 10  # gathered, not one statement each


async def test_a_failed_flush_reaches_every_caller_and_the_next_flush_still_runs() -> None:
    async def refuse(items: list[int]) -> list[int]:
        if 0 in items:
            raise ConnectionError("down")
        return items

    gatherer: Gatherer[int, int] = Gatherer(refuse)
    answers = await asyncio.gather(*(gatherer.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(a, ConnectionError) for a in answers)
    assert await gatherer.submit(5) == 5


async def test_a_cancelled_flush_leaves_no_caller_waiting() -> None:
    started = asyncio.Event()

    async def hang(items: list[int]) -> list[int]:
        started.set()
        await asyncio.Event().wait()
        return items

    gatherer: Gatherer[int, int] = Gatherer(hang)
    callers = [asyncio.create_task(gatherer.submit(n)) for n in range(3)]
    await asyncio.wait_for(started.wait(), 5)
    assert gatherer._flushing is not None
    gatherer._flushing.cancel()
    for caller in callers:
        with pytest.raises(RuntimeError, match="cancelled"):
            await asyncio.wait_for(caller, 5)
