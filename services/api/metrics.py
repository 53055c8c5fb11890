"""GET /metrics: the API process's Prometheus metrics (services/runtime/metrics.py defines them).

No token, like /healthz: a scraper inside the deployment polls it. It holds counts by channel, route
template and status only, nothing about a complainant; keep it off the public ingress all the same.
Each scrape also reads the stream's size (one stream-info request, at most STREAM_TIMEOUT seconds): while
NATS does not answer, the stream gauges keep their last values and the rest is served as usual.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import structlog
from aiohttp import web

from events.store import StoreError
from services.api import keys
from services.runtime.metrics import STREAM_BYTES, STREAM_MESSAGES, STREAM_SUBJECTS, metrics_response

log = structlog.get_logger(__name__)

STREAM_TIMEOUT = 1.0


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", serve_metrics, name="metrics")


async def serve_metrics(request: web.Request) -> web.Response:
    await read_stream_size(request.app[keys.NATS_LINK])
    return await metrics_response(request)


async def read_stream_size(link: keys.NatsLink) -> None:
    """Set the stream gauges from stream info; leave them as they were if NATS does not answer."""
    try:
        async with asyncio.timeout(STREAM_TIMEOUT):
            state = await link.store(timeout=STREAM_TIMEOUT).stream_state()
    except (keys.DependencyUnavailable, TimeoutError, StoreError, nats.errors.Error) as exc:
        log.debug("stream_size_unread", error=repr(exc)[:200])
        return
    STREAM_BYTES.set(state.get("bytes", 0))
    STREAM_MESSAGES.set(state.get("messages", 0))
    STREAM_SUBJECTS.set(state.get("num_subjects", 0))


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
