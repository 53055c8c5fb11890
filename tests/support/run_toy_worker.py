"""A toy worker process, for tests that SIGKILL it: python -m tests.support.run_toy_worker URL STREAM."""

from __future__ import annotations

import asyncio
import signal
import sys

from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec
from services.runtime.worker import Worker
from tests.support.toy import HANDLERS, mapper


async def main(url: str, stream: str, batch_size: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    nc = await connect_nats(url, name="toy-worker")
    try:
        store = JetStreamEventStore(nc, StreamSpec(name=stream))
        await Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=batch_size).run(stop)
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 50))
