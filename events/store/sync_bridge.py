"""A synchronous doorway into the async event store, for callers that are not async (eventsourcing).

The bridge owns one background thread running an asyncio loop with its own NATS connection. Sync callers
submit coroutines to that loop and block on the result; they never run a loop of their own, and a caller
that is itself on an event loop is refused, because blocking there would stall (or deadlock) that loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

from events.store.connection import connect_nats
from events.store.errors import StoreUnavailable
from events.store.jetstream import JetStreamEventStore
from events.store.stream import StreamSpec, ensure_stream

log = structlog.get_logger(__name__)

T = TypeVar("T")


class CalledFromEventLoopError(RuntimeError):
    """A blocking store call was made on a thread that runs an asyncio event loop."""


class SyncBridge:
    """Runs the store on a private loop thread; `call()` runs one of its coroutines and waits for it."""

    def __init__(
        self,
        url: str,
        spec: StreamSpec,
        *,
        name: str,
        timeout: float = 5.0,
        call_timeout: float | None = None,
    ) -> None:
        self.url = url
        self.spec = spec
        self.name = name
        self.timeout = timeout
        # An insert is a few round trips (read lasts, append, maybe an ambiguous-publish read-back), each
        # bounded by `timeout` inside the store; this outer bound only catches a loop that stopped answering.
        self.call_timeout = call_timeout if call_timeout is not None else 4 * timeout + 5
        self._ready = threading.Event()
        self._closed = False
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._store: JetStreamEventStore | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-loop", daemon=True)

    @property
    def store(self) -> JetStreamEventStore:
        if self._store is None:
            raise StoreUnavailable("the NATS bridge is not running")
        return self._store

    def start(self, startup_timeout: float | None = None) -> SyncBridge:
        self._thread.start()
        # connect_nats never gives up on a first connect (max_reconnect_attempts=-1): bound it here.
        wait = startup_timeout if startup_timeout is not None else 2 * self.timeout + 5
        if not self._ready.wait(wait):
            self.close()
            raise StoreUnavailable(f"could not connect to NATS at {self.url} within {wait:.0f}s")
        if self._error is not None:
            self.close()
            raise self._error
        log.info("nats_bridge_started", client=self.name, stream=self.spec.name)
        return self

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run `fn(*args)` on the bridge's loop and return its result (or raise its exception)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop on this thread: blocking is allowed
        else:
            raise CalledFromEventLoopError(
                "a synchronous event store call was made from a thread running an asyncio event loop; "
                "use JetStreamEventStore directly in async code, or move the call off the loop "
                "(e.g. asyncio.to_thread)"
            )
        loop = self._loop
        if self._closed or loop is None or self._store is None:
            raise StoreUnavailable("the NATS bridge is closed")
        coro = fn(*args)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError as exc:  # the loop closed between the check and the submit
            coro.close()
            raise StoreUnavailable("the NATS bridge is closed") from exc
        try:
            return future.result(self.call_timeout)
        except TimeoutError as exc:
            future.cancel()
            raise StoreUnavailable(
                f"no answer from the store within {self.call_timeout:.0f}s; the outcome is unknown"
            ) from exc

    def close(self) -> None:
        """Close the connection and stop the thread. Safe to call twice, and from the loop thread itself."""
        if self._closed:
            return
        self._closed = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                # Cancelling the main task runs its `finally`, which closes the NATS connection.
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # the loop closed meanwhile: nothing left to stop
        # From the loop thread itself (a finaliser run by the garbage collector there) joining would deadlock.
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(self.timeout + 5)
        log.info("nats_bridge_closed", client=self.name)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self._error = exc
            log.error("nats_bridge_failed", client=self.name, error=str(exc) or type(exc).__name__)
        finally:
            self._store = None
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self._closed:
            return
        nc = await connect_nats(self.url, name=self.name)
        try:
            await ensure_stream(nc, self.spec)
            self._store = JetStreamEventStore(nc, self.spec, timeout=self.timeout)
            self._ready.set()
            await asyncio.Event().wait()  # serve calls until close() cancels this task
        finally:
            self._store = None
            await nc.close()
