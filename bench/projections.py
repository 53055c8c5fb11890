"""Read-model figures: rebuild speed, and intake-to-read-model latency under a steady append rate.

    .venv/bin/python bench/projections.py [--events 1000000] [--rate 2000] [--seconds 10]

Starts its own nats-server and PostgreSQL in a temporary directory unless NATS_URL / DATABASE_URL are set.
Writes complaint lives (received, validated, assessed, dispatched, accepted, resolved, followed up, closed)
through the domain and the aggregate store, rebuilds the read models from position 0 and swaps them in,
then runs the live projector while new complaints arrive at --rate and times each one from the append to the
NOTIFY that says its position is committed in PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

# Run as a file, this script's folder comes first on sys.path and its own name would hide the
# `projections` package: look in the repository root instead.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from projections.migrate import migrate
from projections.rebuild import rebuild_schema
from projections.runner import ALL, CHANNEL, ProjectionRunner
from services.embedded.nats_server import NatsServer
from services.embedded.postgres_server import PostgresServer
from services.runtime.collector import tune_collector

CATEGORIES = [("flooding", "drainage"), ("power_outage", "power"), ("water_outage", "water"),
              ("fallen_tree", "parks"), ("road_blocked", "roads")]  # fmt: skip
FACTORS = [{"name": "vulnerable", "weight": 0.3, "value": 1, "evidence": "elderly"}]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def complaint_life(n: int, steps: int = 8) -> Complaint:
    category, department = CATEGORIES[n % len(CATEGORIES)]
    c = Complaint.receive(
        channel="hotline", description="Water in the ground floor, two elderly people inside",
        received_by="operator-bench", category=category, lat=22.41 + (n % 47) / 100, lon=113.71 + (n % 67) / 100,
        people_affected=2, vulnerable=["elderly"],
    )  # fmt: skip
    now = datetime.now(UTC)
    life = [
        lambda: c.validate(),
        lambda: c.assess_priority(60, "P2", FACTORS, now + timedelta(hours=1), now + timedelta(hours=24)),
        lambda: c.dispatch(department, by="bench", reason="category route"),
        lambda: c.accept(department),
        lambda: c.resolve(department, "Done"),
        lambda: c.record_follow_up(True, "satisfied", "ok"),
        lambda: c.close(),
    ]
    for step in life[: steps - 1]:
        step()
    return c


async def write_events(repository: AggregateStore, events: int, writers: int = 8) -> int:
    """Append about `events` events as complaint lives, 100 lives (800 events) per atomic batch."""
    lives = max(1, events // 8)
    batches = iter(range(0, lives, 100))
    written = 0

    async def writer() -> None:
        nonlocal written
        for start in batches:
            complaints = [complaint_life(n) for n in range(start, min(start + 100, lives))]
            positions = await repository.save(*complaints)
            written += len(positions)

    await asyncio.gather(*(writer() for _ in range(writers)))
    return written


async def measure_latency(
    store: JetStreamEventStore, database_url: str, rate: int, seconds: float
) -> list[float]:
    """Intake-to-read-model latencies (s) of complaints appended at `rate` per second."""
    repository = AggregateStore(store, make_mapper())
    runner_conn = await asyncpg.connect(database_url)
    listen_conn = await asyncpg.connect(database_url)
    stop = asyncio.Event()
    pending: list[tuple[int, float]] = []  # (position, appended at), in position order per batch
    latencies: list[float] = []
    all_seen = asyncio.Event()

    def heard(*args: Any) -> None:
        position = json.loads(args[3])["position"]
        seen = time.perf_counter()
        keep = []
        for seq, started in pending:
            (latencies.append(seen - started) if seq <= position else keep.append((seq, started)))
        pending[:] = keep
        if not keep:
            all_seen.set()

    runner = ProjectionRunner(store, runner_conn)
    task = asyncio.create_task(runner.run(stop))
    await listen_conn.add_listener(CHANNEL, heard)
    try:
        tick = 0.01
        per_tick = max(1, round(rate * tick))
        begin = time.perf_counter()
        n = 0
        while time.perf_counter() - begin < seconds:
            complaints = [complaint_life(n + i, steps=1) for i in range(per_tick)]
            n += per_tick
            started = time.perf_counter()
            positions = await repository.save(*complaints)
            pending.extend((seq, started) for seq in positions)
            all_seen.clear()
            next_tick = begin + (n / per_tick) * tick
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        async with asyncio.timeout(30):
            await all_seen.wait()
    finally:
        stop.set()
        await task
        await listen_conn.remove_listener(CHANNEL, heard)
        await listen_conn.close()
        await runner_conn.close()
    return latencies


async def read_rate(store: JetStreamEventStore) -> tuple[int, float]:
    """Messages per second of reading the whole stream as the runner does, and nothing else: the rebuild's
    ceiling from the reading side."""
    started, after, count = time.perf_counter(), 0, 0
    while messages := await store.read(after_seq=after, subject=ALL):
        count += len(messages)
        after = messages[-1].seq
    return count, count / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        nats_url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
        workdir = Path(tempfile.mkdtemp(prefix="levee-bench-projections-"))
        if nats_url is None:
            nats = NatsServer(workdir / "nats").start()
            stack.callback(nats.stop)
            nats_url = nats.url
        if database_url is None:
            postgres = PostgresServer(workdir / "pg").start()
            stack.callback(postgres.stop)
            admin = await asyncpg.connect(postgres.dsn)
            name = f"bench_{uuid.uuid4().hex[:8]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            database_url = f"{postgres.dsn.rpartition('/')[0]}/{name}"
        nc = await connect_nats(nats_url, name="bench-projections")
        stack.push_async_callback(nc.close)
        spec = StreamSpec(name=f"BENCH_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec)

        started = time.perf_counter()
        written = await write_events(AggregateStore(store, make_mapper()), args.events)
        out(f"wrote {written:,} events in {time.perf_counter() - started:,.1f} s")

        count, rate = await read_rate(store)
        out(f"raw read of {count:,} messages (no decoding or writing): {rate:,.0f} messages/s")

        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        await migrate(conn)
        started = time.perf_counter()
        await rebuild_schema(store, conn, progress=lambda line: out("  " + line))
        elapsed = time.perf_counter() - started
        out(
            f"rebuild of {written:,} events: {elapsed:,.1f} s, {written / elapsed:,.0f} events/s (goal >= 20,000)"
        )

        latencies = await measure_latency(store, database_url, args.rate, args.seconds)
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        out(f"intake to read model at {args.rate:,} events/s for {args.seconds:g} s ({len(latencies):,} events): "
            f"p50 {p50:,.1f} ms, p99 {p99:,.1f} ms, max {max(latencies) * 1000:,.1f} ms (goal p99 < 500 ms)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--rate", type=int, default=2000, help="complaints appended per second while measuring"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    tune_collector()  # as `levee serve` does
    asyncio.run(main(parser.parse_args()))
