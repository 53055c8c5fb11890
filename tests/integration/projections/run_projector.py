"""A projector process for tests that SIGKILL it: python -m ...run_projector NATS_URL STREAM DATABASE_URL BATCH."""

from __future__ import annotations

import asyncio
import signal
import sys

import asyncpg

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec
from projections.runner import ProjectionRunner


async def main(url: str, stream: str, database_url: str, batch_size: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    nc = await connect_nats(url, name="test-projector")
    conn = await asyncpg.connect(database_url)
    try:
        store = JetStreamEventStore(nc, StreamSpec(name=stream))
        await ProjectionRunner(store, conn, batch_size=batch_size).run(stop)
    finally:
        await conn.close()
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
