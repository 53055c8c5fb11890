"""The projector on a real surge's stream: the read models rebuilt in batches the size a live projector makes.

    .venv/bin/python bench/projector_batches.py --nats nats://127.0.0.1:4222 --database postgresql://... \
        [--messages 60000] [--batches 20,100,1000]

Reads the first `--messages` messages of a running Levee's stream (the typhoon drill's complaints as triage,
dispatch and notices answered them: `make run`, then `levee drill typhoon --rate 300 --duration 40`; both URLs,
with their passwords, are in `<data dir>/running.json`, which the banner names), then for each batch size applies them in order to a fresh scratch schema
(`bench_batches_<size>`, dropped after) through `ProjectionRunner.apply_messages`, one transaction per batch,
as the live projector does with what each read brings. A live projector keeping up reads a few dozen to a few
hundred messages at a time, so a complaint's triage and its dispatch usually land in different batches.

Prints per batch size: wall time, the CPU of the PostgreSQL backend that did the work and of this process
(the projector's Python), and how many complaint rows were updated (HOT updates among them) by the
statistics PostgreSQL keeps. The live read models are not touched.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

import asyncpg

# Run as a file, this script's folder comes first on sys.path and its own name would hide packages of the
# repository root: look there instead.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.records import StoredMessage
from events.store.stream import DEFAULT_STREAM, StreamSpec
from projections.migrate import migrate
from projections.runner import ALL, ProjectionRunner


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def backend_cpu_seconds(pid: int) -> float:
    """User and system CPU of a local process (the PostgreSQL backend serving our connection)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def read_stream(store: JetStreamEventStore, count: int) -> list[StoredMessage]:
    messages: list[StoredMessage] = []
    while len(messages) < count:
        chunk = await store.read(after_seq=messages[-1].seq if messages else 0, limit=1000, subject=ALL)
        if not chunk:
            break
        messages += chunk
    return messages[:count]


async def replay(
    store: JetStreamEventStore, database_url: str, messages: list[StoredMessage], batch: int
) -> None:
    schema = f"bench_batches_{batch}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await migrate(conn, schema)
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        runner = ProjectionRunner(store, conn, schema=schema, name=schema, notify=False)
        await runner.start()
        began, backend_began, own_began = time.perf_counter(), backend_cpu_seconds(backend), own_cpu_seconds()
        for start in range(0, len(messages), batch):
            await runner.apply_messages(messages[start : start + batch])
        wall = time.perf_counter() - began
        backend_cpu = backend_cpu_seconds(backend) - backend_began
        own_cpu = own_cpu_seconds() - own_began
        await asyncio.sleep(0.6)  # the statistics reach the views at most every half second
        updated = await conn.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'complaints'",
            schema,
        )
        complaints = await conn.fetchval(f"SELECT count(*) FROM {schema}.complaints")
        out(
            f"| {batch:,} | {wall:.2f} s | {backend_cpu:.2f} s | {own_cpu:.2f} s | {complaints:,} | "
            f"{updated['n_tup_upd']:,} ({updated['n_tup_hot_upd']:,}) |"
        )
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    nc = await connect_nats(args.nats, name="levee-bench-projector-batches")
    try:
        store = JetStreamEventStore(nc, StreamSpec(name=args.stream))
        messages = await read_stream(store, args.messages)
        out(f"{len(messages):,} messages of stream {args.stream}, applied in batches:\n")
        out(
            "| batch | wall | PostgreSQL backend CPU | projector CPU | complaints | complaint rows updated (HOT) |"
        )
        out("|---|---|---|---|---|---|")
        for batch in (int(size) for size in args.batches.split(",")):
            await replay(store, args.database, messages, batch)
    finally:
        await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", required=True, help="the running Levee's NATS URL")
    parser.add_argument("--database", required=True, help="its PostgreSQL URL (PostgreSQL on this machine)")
    parser.add_argument("--stream", default=DEFAULT_STREAM)
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--batches", default="20,100,1000", help="batch sizes, comma-separated")
    asyncio.run(main(parser.parse_args()))
