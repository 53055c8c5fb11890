"""The projection runner's Prometheus gauge (projections never import services; same process registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PROJECTION_LAG = Gauge(
    "levee_projection_lag_events",
    "Events in the stream after a projection's committed position",
    ["projection"],
)
PROJECTION_UNDECODABLE = Counter(
    "levee_projection_undecodable_events",
    "Events the projector could not decode or apply and skipped: a poison event (one its model or PostgreSQL "
    "refuses), or one of a newer version of Levee than the projector (an upgrade rolled out of order); the board "
    "lacks them until a rebuild",
)
PROJECTION_POSITION = Gauge(
    "levee_projection_position", "Stream position a projection has committed", ["projection"]
)
