"""Event store throughput with fsync always: one save at a time versus group commit, in one run.

    .venv/bin/python bench/eventstore.py [--events 20000] [--concurrency 256]

Starts its own nats-server (sync_interval: always) in a temporary directory on a free loopback port,
unless NATS_URL is set. Prints events/s and p50/p99 save latency for each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from events.store import JetStreamEventStore, Write
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer

PAYLOAD = b'{"channel":"hotline","description":"Water is coming into the ground floor, two elderly people inside","people_affected":2}'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    save: Callable[[list[Write]], Awaitable[list[int]]], spec: StreamSpec, events: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(events))

    async def worker() -> None:
        for _ in remaining:
            write = Write(spec.event_subject(uuid.uuid4()), PAYLOAD, {"Levee-Version": "1"}, expected_last_seq=0)
            start = time.perf_counter()
            await save([write])
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return events / (time.perf_counter() - started), latencies


def report(label: str, rate: float, latencies: list[float]) -> None:
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    sys.stdout.write(f"{label:<34} {rate:>10,.0f} events/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms\n")


async def main(args: argparse.Namespace) -> None:
    server = None
    url = os.environ.get("NATS_URL")
    if url is None:
        server = NatsServer(Path(tempfile.mkdtemp(prefix="levee-bench-")) / "nats").start()
        url = server.url
    nc = await connect_nats(url, name="bench-eventstore")
    try:
        spec = StreamSpec(name=f"BENCH_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec)
        sys.stdout.write(f"nats-server fsync always; {args.events:,} events of {len(PAYLOAD)} bytes each\n")

        rate_single, lat_single = await drive(store.append, spec, args.single_events, 1)
        report("one save at a time (1 writer)", rate_single, lat_single)

        async with GroupCommitter(store, max_in_flight=args.in_flight, max_queued=1_000_000) as committer:
            rate_group, lat_group = await drive(committer.append, spec, args.events, args.concurrency)
        report(f"group commit ({args.concurrency} writers, {args.in_flight} in flight)", rate_group, lat_group)
        sys.stdout.write(f"group commit / one at a time: {rate_group / rate_single:.1f}x\n")
    finally:
        await nc.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events saved through group commit")
    parser.add_argument("--single-events", type=int, default=3_000, help="events saved one at a time")
    parser.add_argument("--in-flight", type=int, default=2, help="atomic batches in flight at once")
    parser.add_argument("--concurrency", type=int, default=512, help="concurrent writers for group commit")
    asyncio.run(main(parser.parse_args()))
