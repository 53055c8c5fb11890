"""Prometheus metrics every Levee process exposes, and the tiny `/metrics` server for processes without HTTP.

The metrics live in prometheus-client's default registry, one per process. Labels carry only fixed
vocabularies (channel, route template, status, worker name), never a path, id, tracking code or text:
`/metrics` needs no token, so it must not tell anyone anything about a complainant.
The projection runner's lag gauge is defined in projections/metrics.py (projections never import services);
being in the same registry, it is served here too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from aiohttp import web
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from events.store.write_health import REASONS, WriteHealth

log = structlog.get_logger(__name__)

COMPLAINTS_RECEIVED = Counter(
    "levee_complaints_received",
    "Complaints durably stored at intake (the intake rate), by channel",
    ["channel"],
)
HTTP_REQUESTS = Counter(
    "levee_http_requests", "HTTP requests answered by the API, by route template and status",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_LATENCY = Histogram(
    "levee_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)  # fmt: skip
CONSUMER_LAG = Gauge(
    "levee_consumer_lag_events", "Events in the stream after a worker's tracked position", ["worker"]
)
HANDLER_FAILURES = Counter(
    "levee_handler_failures", "Handler attempts that raised (each is retried, then dead-lettered)", ["worker"]
)
DEAD_LETTERS = Counter("levee_dead_letters", "Events a worker set aside as poison", ["worker"])
STORE_WRITES_REFUSED = Counter(
    "levee_store_writes_refused",
    "Appends to the stream refused for lack of storage (no_storage) or never confirmed (unconfirmed)",
    ["reason"],
)
for _reason in REASONS:  # at 0 from the start, so an alert on its rate has a series to watch
    STORE_WRITES_REFUSED.labels(_reason)
DEADLINES_MISSED = Counter(
    "levee_deadlines_missed", "Escalations the deadline watcher made for a missed deadline", ["level"]
)
PERSONAL_DATA_OPENED = Counter(
    "levee_personal_data_opened",
    "Complainants' contact details opened by staff (GET .../contact), by kind of role",
    ["role"],
)
for _role in ("operator", "command", "department"):  # at 0 from the start, so a rate has a series
    PERSONAL_DATA_OPENED.labels(_role)
PERSONAL_DATA_REFUSED = Counter(
    "levee_personal_data_refused",
    "Openings of contact details refused because a token opened them faster than calls are made (429)",
)  # unlabelled: at 0 from the start, so the alert's increase() counts the first refusal
BOARD_SECONDS = Histogram(
    "levee_board_compute_seconds",
    "Seconds the command board's queries took; the count is how many boards were computed",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

LAG_INTERVAL = (
    1.0  # seconds: a lag reading costs a NATS round trip, so busy loops refresh it at most this often
)


class LagMeter:
    """Decides when a busy loop should take a fresh lag reading (at most once per `LAG_INTERVAL`)."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self._last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


def write_health() -> WriteHealth:
    """The process's one WriteHealth for its store: each refused append is counted here."""
    return WriteHealth(on_refused=lambda reason: STORE_WRITES_REFUSED.labels(reason).inc())


def render() -> tuple[bytes, str]:
    """The text exposition of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# Whose /metrics answered: `levee up` names a port only once its child says so.
SERVICE_HEADER = "Levee-Service"
_SERVICE = web.AppKey("metrics_service", str)


async def metrics_response(request: web.Request) -> web.Response:
    body, content_type = render()
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = content_type  # carries its own version and charset parameters
    if service := request.app.get(_SERVICE):
        response.headers[SERVICE_HEADER] = service
    return response


SCRAPE_IDLE_SECONDS = 75.0


@asynccontextmanager
async def metrics_server(host: str, port: int, service: str = "") -> AsyncIterator[int | None]:
    """Serve GET /metrics on host:port while the block runs (port 0: off). Yields the bound port or None.
    Answers carry `service` in SERVICE_HEADER."""
    if port == 0:
        yield None
        return
    app = web.Application()
    app[_SERVICE] = service
    app.router.add_get("/metrics", metrics_response)
    # A scraper asks every 15-60 s; a connection idle (or sending half a request) longer is closed.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=SCRAPE_IDLE_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            # Port taken (node_exporter's 9100 on the same host): the service works on without /metrics, said
            # loudly, rather than die for its metrics and be restarted for ever.
            log.error("metrics_not_listening", host=host, port=port, error=f"{type(exc).__name__}: {exc}")
            yield None
            return
        log.info("metrics_listening", host=host, port=port)
        yield port
    finally:
        await runner.cleanup()
