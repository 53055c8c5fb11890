"""The projection runner's Prometheus gauge (projections never import services; same process registry)."""

from __future__ import annotations

from prometheus_client import Gauge

PROJECTION_LAG = Gauge(
    "levee_projection_lag_events",
    "Events in the stream after a projection's committed position",
    ["projection"],
)
PROJECTION_POSITION = Gauge(
    "levee_projection_position", "Stream position a projection has committed", ["projection"]
)
