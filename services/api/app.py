"""The API's composition root: the only place that opens the API's connections and wires its routes.

Each resource has one `cleanup_ctx` that opens and closes it. Neither NATS nor PostgreSQL has to be up
for the API to start: both are reached lazily, and /healthz answers 503 naming whichever is down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram

from events.reference import configure_reference
from events.store.connection import connect_nats
from events.store.stream import ensure_stream
from services.api import (
    auth,
    commands,
    commands_bulk,
    commands_incidents,
    commands_merge,
    commands_notices,
    contact,
    cors,
    dead_letters,
    feeds,
    health,
    intake,
    keys,
    live,
    metrics,
    nul_characters,
    open311,
    open311_format,
    open311_requests,
    openapi,
    operator,
    operator_commands,
    pages,
    problems,
    read_routes,
    resources,
    slow_clients,
)
from services.api.principal import PRINCIPAL, PUBLIC
from services.runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS, write_health
from services.settings import Settings, SettingsError
from services.triage.rules import configure_rules, configured_rules

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# One line per module that has routes: `add_routes(app)` registers them. aiohttp tries the routes under one
# path prefix in this order, and intake is what a surge calls: first, it is matched before the 23 other
# routes under /api/v1/complaints (each a regular expression to try).
ROUTES: tuple[Callable[[web.Application], None], ...] = (
    intake.add_routes,
    health.add_routes,
    commands.add_routes,
    commands_incidents.add_routes,
    commands_bulk.add_routes,
    commands_merge.add_routes,
    commands_notices.add_routes,
    contact.add_routes,
    dead_letters.add_routes,
    feeds.add_routes,
    open311.add_routes,
    open311_requests.add_routes,
    openapi.add_routes,
    operator_commands.add_routes,
    operator.add_routes,
    read_routes.add_routes,
    live.add_routes,  # also owns the LISTEN connection (cleanup_ctx) and ends streams on shutdown
    pages.add_routes,
    metrics.add_routes,
)
MAX_BODY = 64 * 1024  # bytes; a larger body gets a 413 problem
# Polled by probes and scrapers: logged at debug when they succeed.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # label values


def build_app(settings: Settings) -> web.Application:
    if settings.nats_url is None or settings.database_url is None:
        raise SettingsError("the API needs NATS_URL and DATABASE_URL (`levee up` sets both for its services)")
    middlewares = [
        # CORS outermost: a form reads every answer cross-origin, the 503s request_context makes included.
        cors.allow_listed_origins, request_context,
        problems.problems, slow_clients.body_deadline(settings.http_body_seconds),
        auth.authenticate, open311_format.unmatched,  # a path under /open311/v2/ no route serves: the spec's errors
        nul_characters.refuse_nul,
    ]  # fmt: skip
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.SERVING] = keys.Serving()
    configure_reference(settings.reference_file)  # the process's reference data: LEVEE_REFERENCE or packaged
    configure_rules(settings.triage_rules, settings.reference_file)  # life first reads danger as triage does
    # Read now: a rules file that does not parse stops the API at its start, as it stops triage, not at the first
    # complaint (stored, then answered 500: found by a review); and no request waits 0.4 s for the parse.
    configured_rules()
    app[open311.API_KEYS] = frozenset(settings.open311_api_keys)  # LEVEE_OPEN311_API_KEYS
    app.on_response_prepare.append(hardening_headers)
    app.cleanup_ctx.append(nats_link)
    app.cleanup_ctx.append(postgres_pool)
    app.cleanup_ctx.append(resources.writers)  # after both: closes (flushes) before them
    app.cleanup_ctx.append(auth.token_store)
    register_routes(app)
    return app


def _loopback(host: str) -> bool:
    """True for a listening host only this machine reaches (127.0.0.1, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def register_routes(app: web.Application) -> None:
    for add_routes in ROUTES:
        add_routes(app)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """`levee serve api`: serve until `stop` is set, then close every connection."""
    runner = web.AppRunner(
        build_app(settings), access_log=None, handle_signals=False,
        keepalive_timeout=settings.http_idle_seconds,  # bounds a request's headers too (slow_clients.py)
    )  # fmt: skip
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.http_host, settings.http_port).start()
        log.info("api_listening", url=settings.base_url)
        if settings.public_url is None and not _loopback(settings.http_host):
            log.warning("public_url_unset", effect="the Atom feed, CAP and Open311 discovery links name whatever "
                        "Host a request sends", advice="set LEVEE_PUBLIC_URL to the public https origin")  # fmt: skip
        await stop.wait()
        if settings.http_drain_seconds:
            # Unready, still serving: a load balancer stops sending before the listener closes (a request it sent
            # meanwhile got a connection refused, and a citizen the proxy's 502 instead of an answer).
            runner.app[keys.SERVING].draining = True
            log.info("api_draining", seconds=settings.http_drain_seconds)
            await asyncio.sleep(settings.http_drain_seconds)
    finally:
        await runner.cleanup()
        log.info("api_stopped")


# -- resources ---------------------------------------------------------------------------------------


async def nats_link(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    assert settings.nats_url is not None  # checked in build_app
    link = keys.NatsLink(settings.nats_url, settings.stream_spec, write_health=write_health())
    app[keys.NATS_LINK] = link
    task = asyncio.create_task(_connect(link, client_name=settings.service_name), name="nats-connect")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if link.client is not None:
            await link.client.close()


async def _connect(link: keys.NatsLink, *, client_name: str, max_delay: float = 5.0) -> None:
    """Connect (nats-py retries the first connect for ever with our settings), then check the stream."""
    link.client = await connect_nats(link.url, name=client_name)
    log.info("nats_connected", url=link.shown_url)
    delay = 0.25
    while True:
        try:
            await ensure_stream(link.client, link.spec, timeout=2.0)
        except Exception as exc:  # kept, logged and shown on /healthz until it clears
            link.problem = f"stream {link.spec.name} not usable: {type(exc).__name__}: {exc}"
            log.warning("stream_not_ready", stream=link.spec.name, error=link.problem, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
        else:
            link.stream_ready = True
            log.info("stream_ready", stream=link.spec.name)
            return


async def postgres_pool(app: web.Application) -> AsyncIterator[None]:
    # min_size=0: no connection at start, so the API starts while PostgreSQL is down; each acquire connects.
    # command_timeout: a read PostgreSQL does not answer fails as a 503 (the board's heaviest takes well under
    # a second at 150,000 complaints), not a request held open for ever.
    pool = await asyncpg.create_pool(
        app[keys.SETTINGS].database_url, min_size=0, max_size=10, timeout=5.0,
        command_timeout=keys.READ_STATEMENT_SECONDS,
    )  # fmt: skip
    app[keys.PG_POOL] = pool
    try:
        yield
    finally:
        await pool.close()


# -- middleware --------------------------------------------------------------------------------------

# On every answer that does not set its own (the pages do: services/api/pages.py). An answer echoes what a client
# sent now and then (an unknown service code, a path): never sniffed as HTML, never run, never framed.
API_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


async def hardening_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in API_SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One log line per request, with a request id bound for every line logged while handling it."""
    # A caller's own id is kept when it looks like one: anything else (a name, a phone, markup) would be
    # written into every log line of the request, so a new one is made instead (found by a review).
    given = request.headers.get("X-Request-Id")
    request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    started = time.perf_counter()
    status = 500
    # bind and reset, not bound_contextvars(): that one copies the whole context twice per request.
    bound = structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    except keys.DependencyUnavailable as exc:
        response = health.problem_response(
            503, title="A dependency is unavailable", detail=str(exc), type_=health.DEPENDENCY_DOWN,
            code="dependency_unavailable", dependency=exc.dependency,  # what the pages say, in both languages
        )  # fmt: skip
        status = 503
        problems.log_problem(request, "dependency_unavailable", status, str(exc))
    finally:
        elapsed = time.perf_counter() - started
        route = _route_template(request)
        quiet = request.path in QUIET_PATHS and status < 400
        (log.debug if quiet else log.info)(
            "http_request",
            method=request.method,
            # The route template says what was asked; the path only when none matched (a wrong method too),
            # masked: a path holds tracking codes and Open311 tokens, which open a complaint's status.
            path=None if route else _masked_path(request.path),
            route=route,
            role=request.get(PRINCIPAL, PUBLIC).role,
            status=status,
            duration_ms=round(elapsed * 1000, 1),
            **request.get(keys.LOG_FIELDS, {}),
        )
        requests, latency = _http_metrics(request.method, route, status)
        requests.inc()
        latency.observe(elapsed)
        structlog.contextvars.reset_contextvars(**bound)
    response.headers["X-Request-Id"] = request_id
    return response


_HTTP_METRICS: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def _http_metrics(method: str, route: str | None, status: int) -> tuple[Counter, Histogram]:
    """The request counter and latency histogram for these labels, looked up once and then kept: each
    `labels()` call takes a lock and checks its arguments. Few keys: methods, route templates, statuses."""
    # By route template, never the path: a path can hold a tracking code, and unmatched paths are endless.
    key = (method if method in _METHODS else "other", route or "unmatched", status)
    found = _HTTP_METRICS.get(key)
    if found is None:
        found = _HTTP_METRICS[key] = (
            HTTP_REQUESTS.labels(key[0], key[1], str(status)),
            HTTP_LATENCY.labels(key[0], key[1]),
        )
    return found


# What follows these in a path opens a complaint's status: a tracking code, an Open311 token or request id.
_SECRET_AFTER = re.compile(r"(/status/|/tokens/|/requests/).*", re.IGNORECASE | re.DOTALL)
# A complaint's id (an Open311 token) or tracking code anywhere else in a path: "/api/v1/complaints/<id>/typo".
_SECRET = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|lv-?[0-9a-z]{6}", re.IGNORECASE
)


def _masked_path(path: str) -> str:
    """An unmatched path as logged: at most 200 characters, what follows `/status/`, `/tokens/` or `/requests/`
    masked, and any complaint id or tracking code."""
    return _SECRET.sub("…", _SECRET_AFTER.sub(r"\1…", path[:200]))


def _route_template(request: web.Request) -> str | None:
    """The route as registered (`/open311/v2/tokens/{token}.json`): groups a dashboard's lines by endpoint."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None
