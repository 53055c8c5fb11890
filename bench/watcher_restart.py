"""How long dispatch's deadline watcher takes to start watching again after a restart, with and without its shelf.

    .venv/bin/python bench/watcher_restart.py [--complaints 50000] [--events-each 6]

Starts its own nats-server and writes a surge's shape: `--complaints` complaints, each assessed and dispatched,
a third signed for and a third of those resolved, then called about again until each has `--events-each`
events (most events of a surge never touch a deadline, yet a fold reads them all). Then prints:
- a fold of the whole stream (every start before shelves, and a start with no usable shelf);
- shelving that schedule (encoding and writing it), and its size;
- a restart from the shelf after 1,000 more complaints (what a restart a minute into a surge of 17/s finds):
  reading the shelf, and folding what came after it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.shelf import Shelf
from events.store.stream import StreamSpec, ensure_stream
from services.dispatch.app import SHELF_OWNER
from services.dispatch.deadlines import DeadlineWatcher
from services.embedded.nats_server import NatsServer

FACTORS = [{"name": "flooding_in_home", "weight": 0.5, "value": 1, "evidence": "water in the flat"}]


async def surge(writer: AggregateStore, complaints: int, events_each: int) -> None:
    now = datetime.now(UTC)
    cases = []
    for n in range(complaints):
        case = Complaint.receive(channel="hotline", description=f"Water in flat {n}", received_by="bench",
                                 category="flooding", district="old_town")  # fmt: skip
        case.validate()
        case.assess_priority(60, "P2", FACTORS, now + timedelta(hours=1), now + timedelta(hours=24))
        case.dispatch("drainage", "bench", "flooding in old_town: candidate 1")
        if n % 3 == 0:
            case.accept("drainage")
            if n % 9 == 0:
                case.resolve("drainage", "Pumped out.")
        cases.append(case)
    for start in range(0, complaints, 2000):
        await asyncio.gather(*(writer.save(c) for c in cases[start : start + 2000]))
    for _ in range(max(0, events_each - 5)):
        for case in cases:
            if case.is_open:
                case.repeat_call("Called again: still flooded", "hotline")
        for start in range(0, complaints, 2000):
            await asyncio.gather(*(writer.save(c) for c in cases[start : start + 2000]))


def watcher(store: JetStreamEventStore, shelf: Shelf | None) -> DeadlineWatcher:
    return DeadlineWatcher(
        store, AggregateStore(store, make_mapper()), clock=lambda: datetime.now(UTC), shelf=shelf
    )


async def main(args: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="levee-bench-watcher-"))
    server = NatsServer(scratch / "nats").start()
    nc = await connect_nats(server.url, name="bench-watcher-restart")
    out = sys.stdout.write
    try:
        spec = StreamSpec(name=f"WATCHER_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=60)
        async with GroupCommitter(store, max_queued=1_000_000) as committer:
            writer = AggregateStore(store, make_mapper(), appender=committer)
            await surge(writer, args.complaints, args.events_each)
            messages = await store.last_sequence()
            out(f"stream: {messages:,} messages ({args.complaints:,} complaints)\n")

            started = time.perf_counter()
            first = watcher(store, await Shelf.open(nc, spec, SHELF_OWNER))
            await first.catch_up()
            fold = time.perf_counter() - started
            out(f"fold from the start: {fold:.1f} s ({messages / fold:,.0f} messages/s); "
                f"{len(first.schedule):,} watched, {len(first.dormant):,} dormant\n")  # fmt: skip

            started = time.perf_counter()
            await first.shelve()
            took = time.perf_counter() - started
            shelved = await (await Shelf.open(nc, spec, SHELF_OWNER)).get()  # not timed: its size only
            size = len(shelved.data) if shelved else 0
            out(f"shelving it: {took:.2f} s, {size / 2**20:,.1f} MiB compressed\n")

            await surge(writer, 1000, args.events_each)
        after = await store.last_sequence() - messages
        started = time.perf_counter()
        restarted = watcher(store, await Shelf.open(nc, spec, SHELF_OWNER))
        await restarted.catch_up()
        took = time.perf_counter() - started
        out(f"restart from the shelf, {after:,} messages after it: watching again in {took:.2f} s "
            f"({len(restarted.schedule):,} watched)\n")  # fmt: skip
    finally:
        await nc.close()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=50_000)
    parser.add_argument("--events-each", type=int, default=6)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(parser.parse_args()))
