"""The board cache: one computation for the requests that ask together, none older than asked, and paced."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.api.board_cache import BoardCache
from tests.support.waiting import wait_until


class Board:
    """A board's computation that the test can hold open, counting its calls and when each started."""

    def __init__(self, position: int, *, cost: float = 0.0) -> None:
        self.position = position
        self.cost = cost
        self.started: list[float] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> tuple[int, str, float]:
        self.started.append(time.monotonic())
        position = self.position  # as the snapshot is taken when the computation begins
        await self.release.wait()
        if self.cost:
            await asyncio.sleep(self.cost)  # what the queries would take
        return position, f'{{"position": {position}}}', self.cost


async def test_requests_that_ask_together_share_one_computation() -> None:
    cache, board = BoardCache(), Board(7)
    board.release.clear()
    asking = [asyncio.create_task(cache.get(7, board)) for _ in range(20)]
    await wait_until(lambda: board.started, "the first computation")  # the others wait for it meanwhile
    board.release.set()
    answers = await asyncio.gather(*asking)
    assert len(board.started) == 1
    assert {answer.text for answer in answers} == {'{"position": 7}'}


async def test_a_request_that_saw_a_later_commit_than_the_board_in_hand_gets_a_later_board() -> None:
    """A page told of commit 8 while the board of commit 7 was being computed must not be shown that one."""
    cache, board = BoardCache(busy_share=1.0), Board(7)
    board.release.clear()
    first = asyncio.create_task(cache.get(7, board))
    await wait_until(lambda: board.started, "the board of 7 being computed")
    board.position = 8
    second = asyncio.create_task(cache.get(8, board))
    await asyncio.sleep(0)  # it asks while 7 is computed (had it asked later, 8 would still be its due)
    board.release.set()
    assert [(await first).position, (await second).position] == [7, 8]
    assert len(board.started) == 2


async def test_the_requests_waiting_for_a_computation_that_fails_fail_with_it_at_once() -> None:
    cache, calls = BoardCache(), []
    gate = asyncio.Event()

    async def broken() -> tuple[int, str, float]:
        calls.append(1)
        await gate.wait()
        raise ConnectionError("database away")

    asking = [asyncio.create_task(cache.get(3, broken)) for _ in range(5)]
    await wait_until(lambda: calls, "the computation that will fail")  # the others wait for it meanwhile
    gate.set()
    outcomes = await asyncio.gather(*asking, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert len(calls) == 1  # not once per waiting page, one after another


async def test_a_board_older_than_the_position_asked_for_is_computed_again() -> None:
    cache = BoardCache(busy_share=1.0)
    assert (await cache.get(5, Board(5))).position == 5
    assert (await cache.get(5, Board(99))).position == 5  # still fresh: served again
    assert (await cache.get(6, Board(6))).position == 6


async def gap_between_two_boards(cache: BoardCache, cost: float) -> float:
    """Seconds from the first computation's start to the second's, for two commits in a row."""
    board = Board(1, cost=cost)
    await cache.get(1, board)
    board.position = 2
    await cache.get(2, board)
    first, second = board.started
    return second - first


async def test_the_next_board_waits_until_the_last_one_s_cost_allows() -> None:
    gap = await gap_between_two_boards(BoardCache(busy_share=0.5, max_pace=10.0), cost=0.05)
    assert gap >= 0.05 / 0.5  # the first board's cost was at least 0.05 s


async def test_the_pace_is_bounded_however_costly_the_last_board() -> None:
    gap = await gap_between_two_boards(BoardCache(busy_share=0.001, max_pace=0.2), cost=0.02)
    assert 0.2 <= gap < 5.0  # held back by max_pace, not by 0.02 / 0.001 = 20 s


async def test_a_board_costlier_than_the_pace_still_leaves_the_database_a_pause() -> None:
    """Paced from its start, a board whose queries took longer than max_pace was followed by the next at once:
    one backend busy all the time in a long surge (found by a review of what grows with a surge)."""
    gap = await gap_between_two_boards(BoardCache(busy_share=1 / 3, max_pace=0.1), cost=0.3)
    assert gap >= 0.3 + 0.1


async def test_a_failed_computation_is_the_asker_s_and_the_next_one_goes_ahead() -> None:
    cache = BoardCache()

    async def broken() -> tuple[int, str, float]:
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        await cache.get(3, broken)
    assert (await cache.get(3, Board(3))).position == 3
