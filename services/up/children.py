"""One service as a child process of `levee up`: started, restarted with backoff when it dies, stopped in order.

A crash of one service does not take down the others, and a service that keeps crashing is restarted
ever more slowly instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
HEALTHY_RUN = 30.0  # a child that ran this long before dying starts its backoff afresh
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    pid: int | None = None
    restarts: int = 0

    async def supervise(self, stop: asyncio.Event) -> None:
        """Keep the child running until `stop` is set; then SIGTERM it, and SIGKILL it if it lingers."""
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            # Own session: a Ctrl-C at the terminal reaches only the launcher, which stops children in order.
            proc = await asyncio.create_subprocess_exec(
                *self.argv, env=dict(self.env), stdin=asyncio.subprocess.DEVNULL, start_new_session=True
            )
            self.pid = proc.pid
            started = time.monotonic()
            log.info("service_started", child=self.name, pid=proc.pid, restarts=self.restarts)
            if await _first_of(proc.wait(), stop.wait()) == "stopped":
                await self._terminate(proc)
                return
            ran = time.monotonic() - started
            backoff = FIRST_BACKOFF if ran > HEALTHY_RUN else backoff
            log.error("service_died", child=self.name, pid=proc.pid, returncode=proc.returncode,
                      ran_s=round(ran, 1), restart_in_s=backoff)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            self.restarts += 1

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=STOP_GRACE)
            except TimeoutError:
                log.warning("service_killed", child=self.name, pid=proc.pid, grace_s=STOP_GRACE)
                proc.kill()
                await proc.wait()
        log.info("service_stopped", child=self.name, pid=proc.pid, returncode=proc.returncode)


async def _first_of(exited: Coroutine[Any, Any, int], stopped: Coroutine[Any, Any, bool]) -> str:
    """Which happened first, "exited" or "stopped"; the other wait is cancelled."""
    exit_task = asyncio.ensure_future(exited)
    stop_task = asyncio.ensure_future(stopped)
    done, pending = await asyncio.wait({exit_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return "exited" if exit_task in done else "stopped"
