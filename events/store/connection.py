"""Opening the NATS connection every process owns."""

from __future__ import annotations

import nats
import structlog
from nats.aio.client import Client as NATS

log = structlog.get_logger(__name__)


async def connect_nats(url: str, *, name: str, connect_timeout: float = 5.0) -> NATS:
    """Connect with reconnects that never give up: the default stops after about two minutes."""

    async def on_disconnect() -> None:
        log.warning("nats_disconnected", client=name)

    async def on_reconnect() -> None:
        log.info("nats_reconnected", client=name)

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", client=name, error=str(exc) or type(exc).__name__)

    # A cluster is given as "nats://a:4222,nats://b:4222": the client fails over between them.
    servers = [server.strip() for server in url.split(",") if server.strip()]
    return await nats.connect(
        servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )
