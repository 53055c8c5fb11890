"""How fast each worker drains a backlog: triage, then dispatch, then notices, each against the same stream.

    .venv/bin/python bench/workers.py [--complaints 100000] [--burst 5000]

Writes `--complaints` ComplaintReceived events (through group commit) spread over the served area, then runs
each worker alone until its lag is zero and prints events/s (stream messages it read per second),
complaints/s, and the worker's CPU time (the figure that holds when other work shares the cores). Then a burst of `--burst` complaints arrives while all three run, and it prints each worker's
lag after the burst and how long each took to catch up. Starts its own nats-server unless NATS_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import structlog

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.dispatch import app as dispatch_app
from services.embedded.nats_server import NatsServer
from services.notices import app as notices_app
from services.runtime.collector import tune_collector
from services.runtime.worker import Worker
from services.triage import app as triage_app

TEXTS = [
    "我们小区停电六个小时了，电梯停了，老人下不来。",
    "Power has been out since 3am in our block, no word on when it returns.",
    "海港路下穿隧道积水很深，有车辆被困！",
    "Water main burst on Newfield Avenue, no tap water in our buildings.",
    "A large tree fell across Elm Street and blocks one lane.",
    "Just asking when the power will be back, no danger here.",
]


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def write_complaints(store: JetStreamEventStore, count: int, seed: int) -> float:
    rng = random.Random(seed)
    started = time.perf_counter()
    async with GroupCommitter(store, max_queued=1_000_000) as committer:  # a burst, not a stall
        repository = AggregateStore(store, make_mapper(), appender=committer)
        for start in range(0, count, 2000):
            batch = [
                Complaint.receive(
                    channel=rng.choice(["hotline", "web", "app"]),
                    description=rng.choice(TEXTS),
                    received_by="bench",
                    lat=rng.uniform(22.41, 22.89),
                    lon=rng.uniform(113.71, 114.39),
                    people_affected=rng.choice([1, 2, 5, 20]),
                    contact_hash=uuid.UUID(int=rng.getrandbits(128)).hex,
                )
                for _ in range(min(2000, count - start))
            ]
            await asyncio.gather(*(repository.save(c) for c in batch))
    return time.perf_counter() - started


async def drain(worker: Worker) -> tuple[int, float, float]:
    """(stream events read, seconds, CPU seconds of this process) until the worker's lag is zero."""
    await worker.start()
    started, cpu = time.perf_counter(), time.process_time()
    read = 0
    while True:
        done = await worker.process_batch()
        read += done
        if done == 0 and await worker.lag() == 0:
            return read, time.perf_counter() - started, time.process_time() - cpu


async def main(args: argparse.Namespace) -> None:
    server = None
    url = os.environ.get("NATS_URL")
    if url is None:
        server = NatsServer(Path(tempfile.mkdtemp(prefix="levee-bench-")) / "nats").start()
        url = server.url
    nc = await connect_nats(url, name="bench-workers")
    try:
        spec = StreamSpec(name=f"BENCHW_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=30)
        took = await write_complaints(store, args.complaints, args.seed)
        out(f"backlog: {args.complaints:,} complaints written in {took:.1f} s")
        workers = {
            "triage": triage_app.build_worker(store, triage_app.default_deps()),
            "dispatch": dispatch_app.build(store)[0],
            "notices": notices_app.build(store)[0],
        }
        for name, worker in workers.items():
            read, seconds, cpu = await drain(worker)
            out(f"{name:<9} drained {read:>9,} stream events in {seconds:7.1f} s = {read / seconds:>8,.0f} events/s"
                f"   ({args.complaints / seconds:>7,.0f} complaints/s; worker CPU {cpu:.1f} s ="
                f" {args.complaints / cpu:,.0f} complaints per CPU second)")  # fmt: skip
        burst_took = await write_complaints(store, args.burst, args.seed + 1)
        lags = {name: await worker.lag() for name, worker in workers.items()}
        out(f"burst: {args.burst:,} complaints in {burst_took:.1f} s; lag right after: {lags}")
        for name, worker in workers.items():
            _, seconds, _ = await drain(worker)
            out(f"{name:<9} caught up with the burst in {seconds:.1f} s")
    finally:
        await nc.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--python-gc", action="store_true",
        help="keep Python's default collector settings instead of those of a Levee service (to compare)",
    )  # fmt: skip
    # One log line per handled event is right in production and drowns a benchmark's figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    args = parser.parse_args()
    if not args.python_gc:
        tune_collector()  # as `levee serve` does
    asyncio.run(main(args))
