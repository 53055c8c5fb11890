"""GET /metrics: the API process's Prometheus metrics (services/runtime/metrics.py defines them).

No token, like /healthz: a scraper inside the deployment polls it. It holds counts by channel, route
template and status only, nothing about a complainant; keep it off the public ingress all the same.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.runtime.metrics import metrics_response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", serve_metrics, name="metrics")


async def serve_metrics(request: web.Request) -> web.Response:
    return await metrics_response(request)


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
