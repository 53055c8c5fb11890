"""Concurrent calls gathered into one round trip to PostgreSQL, each caller waiting for its own answer.

Intake asks PostgreSQL a few small things per complaint. One statement each would cost a round trip (and a
socket write, which on a busy two-core machine costs more than the statement) per complaint; gathered, the
complaints that arrive together share one. The first call starts a flush; calls that arrive while it runs
go in the next. Nothing is delayed to wait for company. A flush should take its rows in a fixed order (by
key): two processes inserting the same keys in opposite orders can deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Gatherer(Generic[T, R]):
    """`flush(items)` answers a list of items with one result per item, in order."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._flush_many = flush
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flushing is None or self._flushing.done():
            # Not under this caller's log context: the flush answers every caller that joined it.
            self._flushing = asyncio.create_task(self._flush(), context=contextvars.Context())
        # Shielded: a caller that gives up (its client went away) must not cancel the others' statement.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._flush_many([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            except Exception as exc:  # every waiter hears of it; nothing is swallowed
                _fail(batch, exc)
                continue
            except BaseException:  # cancelled (shutdown): no waiter may be left waiting for ever
                batch, self._pending = batch + self._pending, []
                _fail(batch, RuntimeError("the statement was cancelled"))
                raise
            for (_, future), result in zip(batch, results, strict=True):
                with contextlib.suppress(asyncio.InvalidStateError):
                    future.set_result(result)


def _fail(batch: list[tuple[T, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, future in batch:
        with contextlib.suppress(asyncio.InvalidStateError):
            future.set_exception(exc)
