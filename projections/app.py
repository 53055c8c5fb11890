"""Composition root of the projector (`levee serve projector`): NATS, PostgreSQL, migrations, the runner."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import structlog

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from projections.migrate import migrate
from projections.runner import ProjectionRunner

log = structlog.get_logger(__name__)


async def run(settings: Any, stop: asyncio.Event) -> None:
    """Keep the read models up to date until `stop` is set. Raises StreamGap (and does not run) on a gap."""
    if not settings.nats_url or not settings.database_url:
        raise ValueError("the projector needs NATS_URL and DATABASE_URL")
    async with AsyncExitStack() as stack:
        nc = await connect_nats(settings.nats_url, name="levee-projector")
        stack.push_async_callback(nc.close)
        # With the replicas set: whichever process starts first creates the stream (R3 in a cluster).
        spec = StreamSpec(name=settings.nats_stream, replicas=settings.stream_replicas)
        await ensure_stream(nc, spec)
        conn = await asyncpg.connect(settings.database_url)
        stack.push_async_callback(conn.close)
        await migrate(conn)
        runner = ProjectionRunner(JetStreamEventStore(nc, spec), conn, report_metrics=True)
        await runner.run(stop)
        log.info("projector_stopped", position=runner.position)
