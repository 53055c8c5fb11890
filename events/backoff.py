"""Waiting ever longer while a broker or a database keeps refusing, and at once again after it works.

A disk that fills in a flood can stay full for an hour: a loop that retried every second would write 3,600
warnings per process into the log an operator has to read, and ask a struggling server as often. Every
long-running loop (workers, the projector, the deadline watcher) waits 0.2, 0.4, 0.8 ... up to 10 s between
failed tries, and starts again at 0.2 s once one succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

FIRST_RETRY_SECONDS = 0.2
LAST_RETRY_SECONDS = 10.0


@dataclass(slots=True)
class Backoff:
    """How long to wait before the next try, given how many failed in a row."""

    first: float = FIRST_RETRY_SECONDS
    last: float = LAST_RETRY_SECONDS
    failed: int = 0  # tries failed in a row

    def next_delay(self) -> float:
        """Count one more failure; return how long to wait before trying again."""
        delay = min(self.first * 2 ** min(self.failed, 10), self.last)  # min(): no overflow after days of it
        self.failed += 1
        return delay

    def succeeded(self) -> None:
        self.failed = 0


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
