"""Levee on loopback with every process owned by the test: nats-server, PostgreSQL and each service.

Unlike `levee up`, this harness can SIGKILL nats-server and restart it on the same port and store, stop
and start PostgreSQL, and kill any one service; a supervisor task restarts a service that dies, as the
launcher would. Service logs go to files in the test's directory (`<dir>/logs/<name>.log`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from services.api.tokens import TokenStore
from services.embedded.nats_server import NatsServer
from services.embedded.ports import free_port
from services.embedded.postgres_server import PostgresServer
from services.runtime.tracking import load_tracking
from services.settings import Settings

WORKERS = ("triage", "dispatch", "notices")
SERVICES = ("api", *WORKERS, "projector")
READY_BOUND = 60.0
RESTART_DELAY = 0.2  # between a service's death and its restart (the launcher starts at 0.5 s)
SECRET = "faults-contact-secret-0123456789abcdef"


async def until(
    what: str, condition: Callable[[], Awaitable[bool]], bound: float, every: float = 0.1
) -> None:
    """Poll `condition` until it holds, at most `bound` seconds."""
    async with asyncio.timeout(bound):
        while not await condition():
            await asyncio.sleep(every)  # polling interval of a bounded wait
    del what  # named for the reader and the traceback


@dataclass
class Service:
    """One `levee serve NAME` child, restarted whenever it exits until `close()`."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    _closing: bool = False
    _killed: bool = False  # since the latest start (its process may not be reaped yet)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"service-{self.name}")

    async def _supervise(self) -> None:
        argv = [sys.executable, "-m", "services.cli", "serve", self.name, "--parent-pid", str(os.getpid())]
        while not self._closing:
            with open(self.log_path, "ab") as out:
                self.process = await asyncio.create_subprocess_exec(
                    *argv, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                    start_new_session=True,
                )  # fmt: skip
            self.starts += 1
            self._killed = False
            await self.process.wait()
            if not self._closing:
                # The supervisor's restart delay, not a wait on a condition.
                await asyncio.sleep(RESTART_DELAY)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> bool:
        """SIGKILL (or `sig`: SIGTERM is a stop on request) the running process; the supervisor starts a new
        one. False: none was running (it is between a death and its restart, or was killed already and not
        yet reaped)."""
        if self.process is not None and self.process.returncode is None and not self._killed:
            self.process.send_signal(sig)
            self._killed = True
            return True
        return False

    async def running(self) -> bool:
        """For a worker service: whether the process of the latest start is up and reading the stream (it
        logged worker_started)."""
        if self._killed or self.process is None or self.process.returncode is not None:
            return False
        return self.log_path.read_text(encoding="utf-8").count('"event": "worker_started"') >= self.starts

    async def close(self, grace: float = 20.0) -> None:
        self._closing = True
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._task is not None:
            await self._task


@dataclass
class System:
    root: Path
    reference_file: Path | None = None  # LEVEE_REFERENCE for every service (None: the packaged data)
    triage_rules: Path | None = None  # LEVEE_TRIAGE_RULES likewise
    # Variables of one service's own on top of the rest (a service deployed with another release's files);
    # a test may change them later (Service.env): they take effect at the service's next start.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    nats: NatsServer = field(init=False)
    postgres: PostgresServer = field(init=False)
    settings: Settings = field(init=False)
    services: dict[str, Service] = field(default_factory=dict)
    operator_token: str = ""

    def __post_init__(self) -> None:
        # Fixed ports: a restarted server comes back where every client expects it.
        self.nats = NatsServer(self.root / "nats")
        self.postgres = PostgresServer(self.root / "pg")
        self.settings = Settings(
            http_port=free_port(), data_dir=self.root / "data", log_format="json",
            contact_hash_secret=SECRET.encode(), reference_file=self.reference_file, triage_rules=self.triage_rules,
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    async def start(self) -> None:
        await asyncio.to_thread(self.nats.start)
        await asyncio.to_thread(self.postgres.start)
        self.settings = self.settings.replace(nats_url=self.nats.url, database_url=self.postgres.dsn)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        nc = await connect_nats(self.nats.url, name="faults-setup")
        try:
            await ensure_stream(nc, self.settings.stream_spec)
        finally:
            await nc.close()
        self.operator_token = await self.mint("operator", "Fault drill desk")
        (self.root / "logs").mkdir(exist_ok=True)
        env = {**os.environ, **self.settings.to_env()}
        for name in SERVICES:
            own = {**env, "LEVEE_SERVICE": name, **self.service_env.get(name, {})}
            service = Service(name, own, self.root / "logs" / f"{name}.log")
            self.services[name] = service
            service.start()
        await until("api healthy", self.api_healthy, READY_BOUND)

    async def mint(self, role: str, name: str) -> str:
        """An API token for `role` (the drill's desks), straight into the token store."""
        pool = await asyncpg.create_pool(self.postgres.dsn, min_size=1, max_size=1)
        try:
            token, _ = await TokenStore(pool).create(role, name)
        finally:
            await pool.close()
        return token

    async def api_healthy(self) -> bool:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                async with session.get(self.base_url + "/healthz") as response:
                    return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def close(self) -> None:
        for service in self.services.values():
            with contextlib.suppress(Exception):
                await service.close()
        await asyncio.to_thread(self.postgres.stop)
        await asyncio.to_thread(self.nats.stop)

    async def settle(self, bound: float = 180.0) -> None:
        """Wait until the workers have nothing left to do, stop them and the API, then let the projector finish.

        Workers first, projector last: whatever the workers wrote before they stopped is projected.
        """
        async with self.store() as store:
            previous = -1

            async def workers_idle() -> bool:
                nonlocal previous
                last = await store.last_sequence()
                lags = [await store.count_after((await load_tracking(store, w)).position) for w in WORKERS]
                steady, previous = last == previous, last
                return steady and not any(lags)

            await until("workers caught up", workers_idle, bound, every=0.5)
            for name in ("api", *WORKERS):
                await self.services[name].close()

            async def projector_idle() -> bool:
                return await store.count_after(await self.projector_position()) == 0

            await until("projector caught up", projector_idle, bound, every=0.2)
            await self.services["projector"].close()

    async def projector_position(self) -> int:
        conn = await asyncpg.connect(self.postgres.dsn)
        try:
            if await conn.fetchval("SELECT to_regclass('levee_read.projection_tracking')") is None:
                return 0
            return int(await conn.fetchval("SELECT max(position) FROM levee_read.projection_tracking") or 0)
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[JetStreamEventStore]:
        nc = await connect_nats(self.nats.url, name="faults-audit")
        try:
            yield JetStreamEventStore(nc, StreamSpec(name=self.settings.nats_stream))
        finally:
            await nc.close()
