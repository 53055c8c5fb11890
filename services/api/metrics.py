"""GET /metrics: the API process's Prometheus metrics (services/runtime/metrics.py defines them).

No token, like /healthz: a scraper inside the deployment polls it. It holds counts by channel, route
template and status only, nothing about a complainant; keep it off the public ingress all the same.
Each scrape also reads the stream's size (one stream-info request, at most STREAM_TIMEOUT seconds), which
nats-server's memory grows with (docs/operations.md, "Known problems"). The stream gauges appear after the
first read that succeeds, and only in the API process (every process imports this module); while NATS does
not answer they keep their last values, `levee_stream_read_timestamp_seconds` says how old those are, and
the rest is served as usual.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import Gauge

from services.api import keys
from services.runtime.metrics import metrics_response

log = structlog.get_logger(__name__)

STREAM_TIMEOUT = 1.0
NATS_CONNECTED = "levee_api_nats_connected"  # made at the API's first scrape
WARN_EVERY = 60.0  # seconds between warnings that the stream's size could not be read
STREAM_GAUGES = {
    "bytes": ("levee_stream_bytes", "Bytes the event stream holds (stream info, at the last good read)"),
    "messages": ("levee_stream_messages", "Messages the event stream holds (at the last good read)"),
    "num_subjects": (
        "levee_stream_subjects", "Distinct subjects in the event stream, about 2.3 per complaint (last good read)"
    ),
}  # fmt: skip


class _StreamGauges:
    """The stream gauges, made at the first good read (the workers import this module too), and when a
    failed read was last logged."""

    def __init__(self) -> None:
        self.gauges: dict[str, Gauge] = {}
        self.warned_at = float("-inf")

    def set(self, values: dict[str, float]) -> None:
        if not self.gauges:
            self.gauges = {key: Gauge(name, doc) for key, (name, doc) in STREAM_GAUGES.items()}
            self.gauges["read_at"] = Gauge(
                "levee_stream_read_timestamp_seconds", "When the stream gauges were last read (Unix time)"
            )
        for key, value in values.items():
            self.gauges[key].set(value)
        self.gauges["read_at"].set(time.time())

    def unread(self, exc: Exception) -> None:
        if time.monotonic() - self.warned_at >= WARN_EVERY:
            self.warned_at = time.monotonic()
            log.warning("stream_size_unread", error=repr(exc)[:200])


_STREAM = _StreamGauges()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", serve_metrics, name="metrics")


async def serve_metrics(request: web.Request) -> web.Response:
    link = request.app[keys.NATS_LINK]
    connected = link.client is not None and link.client.is_connected and link.stream_ready
    _nats_connected().set(1.0 if connected else 0.0)
    await read_stream_size(link)
    return await metrics_response(request)


@functools.cache
def _nats_connected() -> Gauge:
    """Per API process, made at its first scrape (the workers import this module too). One replica cut off from
    NATS while the others reach it answers 503 to every write sent its way, and stays in the load balancer
    (ready since it connected once: health.readyz): alert LeveeApiCutOffFromNats names the pod."""
    return Gauge(NATS_CONNECTED, "1 while this API process is connected to NATS and its stream, else 0")


async def read_stream_size(link: keys.NatsLink) -> None:
    """Set the stream gauges from stream info; leave them as they were if NATS does not answer."""
    try:
        async with asyncio.timeout(STREAM_TIMEOUT):
            state = await link.store(timeout=STREAM_TIMEOUT).stream_state()
        values = {key: float(state.get(key, 0)) for key in STREAM_GAUGES}  # num_subjects is absent at 0
    except Exception as exc:  # a figure for the scrape: never the reason /metrics fails
        _STREAM.unread(exc)
        return
    _STREAM.set(values)


OPENAPI_PATHS: dict[str, Any] = {
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of this process (text exposition format)",
            "tags": ["operations"],
            "security": [{}],
            "responses": {"200": {"description": "Prometheus text format 0.0.4",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }
    }
}  # fmt: skip
