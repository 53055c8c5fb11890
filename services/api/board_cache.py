"""The command board, computed once for all the pages that ask at the same time, and no more often than its
cost allows.

Every open board refetches on every projection commit (services/api/live.py), and in a surge commits come
several times a second. The board's queries read the whole complaints table: 0.7 s of PostgreSQL at 150,000
complaints (`bench/board.py --complaints 150000`). Computed per request, ten pages in a command centre would
ask for seven seconds of queries per commit, and the database that intake and the projector need would do
nothing else. So:

- one computation at a time per API process; a request waiting for it is answered with its result when that
  shows at least the read models' position the request found on arrival (so every commit its page was told
  of), and a failure is the answer of every request that was waiting for it;
- the next computation starts no sooner than its predecessor's database time times (1/BUSY_SHARE - 1) after
  that one ended (at most MAX_PACE seconds later): the board keeps one database backend busy a third of the
  time at most while its queries take under MAX_PACE / 2, and always leaves it MAX_PACE of rest after costlier
  ones. A small board (tens of milliseconds) is recomputed as often as before.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.runtime.metrics import BOARD_SECONDS

BOARD_FRESH = 1.0  # seconds a computed board is served again while no projection commit came in
BUSY_SHARE = 1 / 3  # the largest share of time the board's computations may take
MAX_PACE = 10.0  # seconds: the longest a board is held back, whatever its last one cost

Compute = Callable[[], Awaitable[tuple[int, str, float]]]
"""Reads the board and the read models' position it shows: (position, JSON text, seconds its queries took).
Only the queries set the pace: waiting for a connection or for NATS is not the database's time."""


@dataclass
class ComputedBoard:
    """One computed board, as text and (once a client asks for it) gzipped: in a surge a board is about a
    megabyte (the map's 5,000 points), refetched by every open page on every commit; gzip makes it a quarter."""

    position: int
    at: float  # time.monotonic() when it was computed
    text: str
    _gzipping: asyncio.Future[bytes] | None = None

    async def gzipped(self) -> bytes:
        """Compressed once per board however many pages ask at once, off the event loop (zlib lets go of
        the GIL); shielded, so one page going away does not cancel it for the others."""
        if self._gzipping is None:
            text = self.text.encode()
            self._gzipping = asyncio.ensure_future(asyncio.to_thread(gzip.compress, text, compresslevel=1))
        return await asyncio.shield(self._gzipping)


class BoardCache:
    """The API process's latest board; `get` answers from it or computes the next (one at a time, paced)."""

    def __init__(
        self, *, fresh: float = BOARD_FRESH, busy_share: float = BUSY_SHARE, max_pace: float = MAX_PACE
    ) -> None:
        self.fresh = fresh
        self.busy_share = busy_share
        self.max_pace = max_pace
        self.current: ComputedBoard | None = None
        self._computing = asyncio.Lock()
        self._next_start = float("-inf")
        self._failed: tuple[float, BaseException] | None = None  # when the last computation failed, and why

    def _usable(self, position: int) -> ComputedBoard | None:
        """The latest board, if it shows `position` (or later) and is recent enough for the clock's sake (the
        overdue counts move with it)."""
        board = self.current
        if board is not None and board.position >= position and time.monotonic() - board.at < self.fresh:
            return board
        return None

    async def get(self, position: int, compute: Compute) -> ComputedBoard:
        """A board showing at least `position` (the read models' position when the request came in)."""
        if board := self._usable(position):
            return board
        asked = time.monotonic()
        async with self._computing:
            if board := self._usable(position):  # computed while this request waited for its turn
                return board
            if self._failed is not None and self._failed[0] >= asked:
                raise self._failed[1]  # the computation it waited for failed: so does it, at once
            held_back = self._next_start - time.monotonic()
            if held_back > 0:
                await asyncio.sleep(held_back)  # the pace itself, not a wait for a condition
            try:
                computed_at, text, queries = await compute()
            except Exception as exc:
                self._failed = (time.monotonic(), exc)
                raise
            BOARD_SECONDS.observe(queries)
            # The pause counts from the end: counted from the start, a board whose queries took longer than
            # max_pace started the next at once, and kept a backend busy all the time in a long surge.
            self._next_start = time.monotonic() + min(queries * (1 / self.busy_share - 1), self.max_pace)
            self.current = ComputedBoard(computed_at, time.monotonic(), text)
            return self.current
