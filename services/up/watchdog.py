"""Keep the embedded servers up: a nats-server or PostgreSQL that dies is started again, same port, same data.

Services reconnect by themselves (NATS with no limit on attempts, PostgreSQL pools per acquire), so bringing the
server back is all that is needed; /healthz says 503 meanwhile.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import structlog

from services.up import leftovers

log = structlog.get_logger(__name__)


class Server(Protocol):
    @property
    def pid(self) -> int | None: ...

    def exited(self) -> bool: ...

    def start(self, timeout: float = ...) -> object: ...


async def keep_up(
    name: str, server: Server, data_dir: Path, stop: asyncio.Event, *, check_every: float = 0.5
) -> None:
    delay = 1.0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), check_every)
            return
        except TimeoutError:
            pass
        if not server.exited():
            continue
        log.error("server_died", server=name, pid=server.pid, restart_in_s=delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(server.start)
        except Exception as exc:  # logged; tried again with a longer wait
            log.error("server_restart_failed", server=name, error=str(exc)[:500])
            delay = min(delay * 2, 30.0)
            continue
        leftovers.record(data_dir, name, server.pid)
        log.warning("server_restarted", server=name, pid=server.pid)
        delay = 1.0
