"""The one way tests wait: poll a condition with a bound, never sleep for a guess."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(condition: Callable[[], object], what: str, bound: float = 10.0) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"{what} not ready within {bound}s"
        await asyncio.sleep(0.02)


async def wait_until_async(
    condition: Callable[[], Awaitable[object]], what: str, bound: float = 10.0
) -> None:
    """`wait_until` for a condition that must ask a server (a read of the stream, a query)."""
    deadline = time.monotonic() + bound
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not ready within {bound}s"
        await asyncio.sleep(0.02)
