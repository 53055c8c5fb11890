"""Triage and dispatch together on a typhoon drill's complaints: the surge as the workers meet it.

    .venv/bin/python bench/surge.py [--seconds 40] [--rate 400] [--seed 1]

Writes the complaints a `levee drill typhoon` of `--seconds` at `--rate` would send (thousands about each of a
few events, so incidents and clusters grow to thousands of events each) to its own nats-server, then drains
them with the triage and dispatch workers running at once in this process, as they run at once in `levee up`.
Dispatch writes the complaints triage has just assessed, so some of triage's batches meet a concurrent write
and are redone: the bench prints how many, and how many aggregates (and events) had to be read again from the
stream because of it. CPU covers both workers (one process).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import structlog

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.dispatch import app as dispatch_app
from services.drill.direct import received
from services.drill.scenario import load_scenario, submissions
from services.embedded.nats_server import NatsServer
from services.runtime.collector import tune_collector
from services.triage import app as triage_app

SECRET = b"bench-contact-secret"
READ_AGAIN: Counter[str] = Counter()  # aggregates read in full from the stream, by kind
EVENTS_READ_AGAIN: Counter[str] = Counter()
REDONE: Counter[str] = Counter()


def count_full_reads() -> None:
    """Every full read of an aggregate (the workers build their own stores): a measuring instrument only."""
    read = AggregateStore.get

    async def get(self: AggregateStore, aggregate_id: uuid.UUID, cls: Any = None) -> Any:
        aggregate = await read(self, aggregate_id, cls)
        READ_AGAIN[type(aggregate).__name__] += 1
        EVENTS_READ_AGAIN[type(aggregate).__name__] += aggregate.version
        return aggregate

    AggregateStore.get = get  # type: ignore[method-assign]


def count_redone(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    if event.get("event") in ("worker_refresh_stale", "worker_retry_conflict", "batch_split"):
        REDONE[str(event["event"])] += 1
    raise structlog.DropEvent


async def main(args: argparse.Namespace) -> None:
    server = NatsServer(Path(tempfile.mkdtemp(prefix="levee-bench-surge-")) / "nats").start()
    nc = await connect_nats(server.url, name="bench-surge")
    try:
        spec = StreamSpec(name=f"SURGE_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=30)
        plan = submissions(load_scenario("typhoon"), seed=args.seed, rate=args.rate, duration=args.seconds)
        complaints = [received(s.body, received_by="bench", contact_secret=SECRET) for s in plan]
        async with GroupCommitter(store, max_queued=1_000_000) as committer:  # a burst, not a stall
            writer = AggregateStore(store, make_mapper(), appender=committer)
            for start in range(0, len(complaints), 2000):
                await asyncio.gather(*(writer.save(c) for c in complaints[start : start + 2000]))
        count_full_reads()  # from here on: the workers' reads, not the writing above
        triage = triage_app.build_worker(store, triage_app.default_deps())
        dispatch = dispatch_app.build(store)[0]
        await triage.start()
        await dispatch.start()

        finished = asyncio.Event()

        async def keep_dispatching() -> None:
            while not finished.is_set():
                if await dispatch.process_batch() == 0:
                    await asyncio.sleep(0.01)

        helper = asyncio.create_task(keep_dispatching())
        started, cpu = time.perf_counter(), time.process_time()
        while await triage.process_batch() or await triage.lag():
            pass
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finished.set()  # and its batch in hand finished, before the connection closes
        await helper
        n = len(complaints)
        sys.stdout.write(
            f"typhoon drill, {args.seconds:g} s at {args.rate:g}/s (seed {args.seed}): {n:,} complaints\n"
            f"triage with dispatch writing beside it: {seconds:.1f} s = {n / seconds:,.0f} complaints/s; "
            f"CPU of both {cpu:.1f} s\n"
            f"batches redone: {dict(REDONE) or 0}\n"
            f"aggregates read again in full: {dict(READ_AGAIN) or 0}; their events: {dict(EVENTS_READ_AGAIN) or 0}\n"
        )
    finally:
        await nc.close()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--rate", type=float, default=400)
    parser.add_argument("--seed", type=int, default=1)
    structlog.configure(
        processors=[count_redone], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
    )
    tune_collector()  # as `levee serve` does
    asyncio.run(main(parser.parse_args()))
