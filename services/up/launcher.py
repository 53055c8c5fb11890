"""`levee up`: embedded NATS (JetStream, fsync always) and PostgreSQL, the stream, then every service.

Everything started here is stopped here, in reverse order, by one AsyncExitStack: children first (so
they drain while their servers are still up), then PostgreSQL, then NATS. The same data directory
gives back the same stream and the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import structlog

from events.store.connection import connect_nats
from events.store.stream import ensure_stream
from services.embedded.nats_server import NatsServer
from services.embedded.ports import free_port
from services.embedded.postgres_server import PostgresServer
from services.logging_setup import write_banner
from services.runtime.metrics import SERVICE_HEADER
from services.settings import Settings, without_password, without_passwords
from services.up import contact_secret, leftovers, running, server_passwords, watchdog
from services.up.children import Child

log = structlog.get_logger(__name__)

NATS_PORT, NATS_MONITOR_PORT = 4222, 8222  # the usual ports when free, so tools find them
READY_TIMEOUT = 90.0


async def launch(
    settings: Settings,
    *,
    services: Sequence[str],
    environ: Mapping[str, str],
    stop: asyncio.Event,
    data_file_problem: Callable[[Settings], str | None] | None = None,
) -> int:
    """Start everything; `data_file_problem` says why the deployment's data files cannot be used (None: they
    can), asked before anything starts."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.replace(
        data_dir=data_dir,
        contact_hash_secret=settings.contact_hash_secret or contact_secret.load_or_create(data_dir),
    )
    log.info("levee_starting", data_dir=str(data_dir), pid=os.getpid())
    try:
        async with AsyncExitStack() as stack:
            stack.enter_context(leftovers.data_dir_lock(data_dir))  # released last
            if "api" in services and (taken := _address_taken(settings.http_host, settings.http_port)):
                # Said once and clearly, before anything starts: else the API would be restarted for ever.
                log.error(
                    "levee_failed", reason=f"the API's address {settings.base_url} is in use ({taken}): "
                    "another `levee up`, or another program, listens there; stop it, or choose another "
                    "port (LEVEE_HTTP_PORT, or --port)",
                )  # fmt: skip
                return 1
            if data_file_problem is not None and (problem := data_file_problem(settings)):
                log.error(
                    "levee_failed", reason=f"a data file of this deployment cannot be used: {problem}. Fix it, or "
                    "unset LEVEE_REFERENCE / LEVEE_TRIAGE_RULES / LEVEE_ROUTING (or remove the data directory's "
                    "routing.toml) to use the packaged one",
                )  # fmt: skip
                return 1
            await asyncio.to_thread(leftovers.stop_leftovers, data_dir)
            settings, monitor_url = await _start_servers(settings, stack)
            if stop.is_set():
                return 0
            await _ensure_stream(settings)
            metrics = metrics_ports(settings, services)
            # Written before the children start, not once /healthz says 200: a system that never gets there
            # (a stream restored from an older backup makes the projector refuse) is mended with `levee
            # rebuild`, which finds the servers here (found by a review of backups and restores).
            stack.callback(running.remove, settings)
            running.write(settings)
            await _start_children(settings, services, metrics, environ, stop, stack)
            await _announce_when_ready(settings, monitor_url, metrics, stop)
            await stop.wait()
            log.info("levee_stopping")
    except Exception as exc:
        # A failed initdb or server start says why only in its captured output: show its end.
        output = getattr(exc, "stderr", None) or getattr(exc, "output", None)
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        log.exception("levee_failed", output=output[-2000:] if output else None)
        return 1
    log.info("levee_stopped")
    return 0


async def _start_servers(settings: Settings, stack: AsyncExitStack) -> tuple[Settings, str | None]:
    """Embedded NATS unless NATS_URL is set, embedded PostgreSQL unless DATABASE_URL is set."""
    monitor_url = None
    if settings.nats_url is None:
        nats_password = server_passwords.load_or_create(settings.data_dir, server_passwords.NATS_FILE)
        nats = NatsServer(
            settings.data_dir / "nats",
            port=_free_or_any(NATS_PORT),
            http_port=_free_or_any(NATS_MONITOR_PORT),
            extra_config=server_passwords.nats_authorization(nats_password),
        )
        stack.callback(leftovers.forget, settings.data_dir, "nats")
        stack.push_async_callback(asyncio.to_thread, nats.stop)  # before start: a failed start is cleaned too
        await asyncio.to_thread(nats.start)
        leftovers.record(settings.data_dir, "nats", nats.pid)
        _watch(stack, "nats", nats, settings.data_dir)
        nats_url = server_passwords.nats_url_with_user(nats.url, nats_password)
        settings, monitor_url = settings.replace(nats_url=nats_url), nats.monitor_url
    if settings.database_url is None:
        postgres = PostgresServer(
            settings.data_dir / "postgres",
            password=server_passwords.load_or_create(settings.data_dir, server_passwords.POSTGRES_FILE),
        )
        stack.callback(leftovers.forget, settings.data_dir, "postgres")
        stack.push_async_callback(asyncio.to_thread, postgres.stop)
        await asyncio.to_thread(postgres.start)
        leftovers.record(settings.data_dir, "postgres", postgres.pid)
        _watch(stack, "postgres", postgres, settings.data_dir)
        settings = settings.replace(database_url=postgres.dsn)
    return settings, monitor_url


def _watch(stack: AsyncExitStack, name: str, server: watchdog.Server, data_dir: Path) -> None:
    """Restart `server` if it dies; the watch ends (first, LIFO) before the server is stopped at shutdown."""
    done = asyncio.Event()
    task = asyncio.create_task(watchdog.keep_up(name, server, data_dir, done), name=f"watch-{name}")

    async def end_watch() -> None:
        done.set()
        await task

    stack.push_async_callback(end_watch)


async def _ensure_stream(settings: Settings, timeout: float = 30.0) -> None:
    assert settings.nats_url is not None
    async with asyncio.timeout(timeout):
        nc = await connect_nats(settings.nats_url, name="levee-up")
        try:
            info = await ensure_stream(nc, settings.stream_spec)
        finally:
            await nc.close()
    log.info("stream_ready", stream=settings.nats_stream, last_seq=info["state"]["last_seq"])


def metrics_ports(settings: Settings, services: Sequence[str]) -> dict[str, int]:
    """Each child's /metrics port: LEVEE_METRICS_PORT and upwards in order when set, else a free loopback
    port for every process without HTTP (workers, projector); the API serves /metrics on its own port."""
    if settings.metrics_port:
        others = [name for name in services if name != "api"]
        return {name: 0 if name == "api" else settings.metrics_port + others.index(name) for name in services}
    return {name: 0 if name == "api" else free_port() for name in services}


async def _start_children(
    settings: Settings,
    services: Sequence[str],
    metrics: Mapping[str, int],
    environ: Mapping[str, str],
    stop: asyncio.Event,
    stack: AsyncExitStack,
) -> None:
    children_stop = asyncio.Event()
    tasks = []
    for name in services:
        argv = [sys.executable, "-m", "services.cli", "serve", name, "--parent-pid", str(os.getpid())]
        # The port stays the child's across restarts: a scraper keeps finding it where the banner said.
        own = settings.replace(service_name=name, metrics_port=metrics[name])
        child = Child(name, argv, {**environ, **own.to_env()})
        tasks.append(asyncio.create_task(child.supervise(children_stop), name=f"child-{name}"))

    async def stop_children() -> None:
        children_stop.set()
        await asyncio.gather(*tasks)

    stack.push_async_callback(stop_children)


METRICS_CONFIRM_SECONDS = 15.0  # a child's /metrics, after the API is ready: it starts its server first thing


async def _confirmed_metrics(
    session: aiohttp.ClientSession, host: str, metrics: Mapping[str, int], stop: asyncio.Event
) -> dict[str, str]:
    """Each child's /metrics URL once the child itself answered there (SERVICE_HEADER), else why not. A port
    another program holds was named all the same, and a scraper read someone else's figures (found by a review)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + METRICS_CONFIRM_SECONDS

    async def confirm(name: str, url: str) -> str:
        answered_as: str | None = None
        while not stop.is_set() and loop.time() < deadline:
            try:
                async with session.get(url) as response:
                    answered_as = response.headers.get(SERVICE_HEADER, "another program")
                    if answered_as == name:
                        return url
            except (aiohttp.ClientError, TimeoutError):
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)
        why = f"answered by {answered_as}" if answered_as else "no answer"
        log.warning("metrics_not_confirmed", service=name, url=url, why=why)
        return f"none: {url} {why} (see {name}'s metrics_not_listening line)"

    children = {name: f"http://{host}:{port}/metrics" for name, port in metrics.items() if port}
    found = await asyncio.gather(*(confirm(name, url) for name, url in children.items()))
    return dict(zip(children, found, strict=True))


async def _announce_when_ready(
    settings: Settings, monitor_url: str | None, metrics: Mapping[str, int], stop: asyncio.Event
) -> None:
    """Wait (bounded) until the API's /healthz says 200, then show where everything is."""
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    health = settings.replace(http_host=host).base_url + "/healthz"
    last = "no answer yet"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while not stop.is_set() and loop.time() < deadline:
            try:
                async with session.get(health) as response:
                    if response.status == 200:
                        break
                    last = f"{response.status} {await response.text()}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)
        else:
            if not stop.is_set():
                log.error("levee_not_ready", health=health, last_answer=last, waited_s=READY_TIMEOUT)
            return
        metrics_urls = await _confirmed_metrics(session, host, metrics, stop)
    urls = {
        "board": settings.base_url + "/board",
        "health": settings.base_url + "/healthz",
        "nats": without_passwords(settings.nats_url),
        "nats_monitoring": monitor_url or "-",
        "postgres": without_password(settings.database_url),
        "data_dir": str(settings.data_dir),
        # The API serves its own on its HTTP port (port 0 here); the others on theirs, on loopback.
        **{f"metrics_{name}": metrics_urls.get(name, settings.base_url + "/metrics") for name in metrics},
    }  # fmt: skip
    token, drill = next_commands(settings)
    log.info("levee_ready", **urls, token=token, drill=drill)
    width = max(map(len, urls))
    lines = [f"  {key.replace('_', ' '):<{width}}  {value}" for key, value in urls.items()]
    write_banner(
        "\nLevee is up. Ctrl-C stops everything.\n" + "\n".join(lines) + "\n\n"
        "Next, in another terminal:\n"
        f"  {token}   # a token for /board\n"
        f"  {drill}   # a typhoon surge, worked by simulated staff\n"
    )


def next_commands(settings: Settings) -> tuple[str, str]:
    """What a newcomer runs beside this `levee up`, as printed: a command token, and the drill (which mints
    its own drill tokens). Both find the API and the database through running.json in the data directory,
    hence LEVEE_DATA_DIR when it is not the default."""
    env = ""
    if settings.data_dir != Settings().data_dir.resolve():
        env = "LEVEE_DATA_DIR=" + shlex.quote(str(settings.data_dir)) + " "
    return (
        f"{env}.venv/bin/levee token create --role command --name 'Duty officer'",
        f"{env}.venv/bin/levee drill typhoon --rate 50 --duration 120 --staff",
    )


def _address_taken(host: str, port: int) -> str | None:
    """Why the API could not listen on host:port now (bound as aiohttp binds, reusing TIME_WAIT), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{host} does not resolve: {exc.strerror}"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return exc.strerror or str(exc)
    return None


def _free_or_any(port: int, host: str = "127.0.0.1") -> int:
    """`port` if nothing listens on it, else 0 (the embedded server then picks a free one)."""
    return port if _address_taken(host, port) is None else 0
