"""What the API reads for an incident of a surge: the incident itself, and its complainants for a notice.

    .venv/bin/python bench/big_incident.py [--complaints 10000] [--events-each 6] [--rounds 3]

Starts its own nats-server and writes a surge's shape: `--complaints` complaints, each with `--events-each`
events written in rounds (received, then called about again, as workers and staff add events to a complaint over hours,
so its events lie far apart in the stream), all linked to one incident. Then prints, each the mean of
`--rounds`:
- a command's read of the incident: whole (as every command did before events/store/held.py, and as the first
  does after a restart) and held (the events written since: here 20 new links);
- what publishing a notice reads of the complainants: every history (`AggregateStore.get_many`, as before: once,
  not a mean) and each first event (`SealedReporters`: the first notice; the next one reads none of them again).
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.group_commit import GroupCommitter
from events.store.held import HeldAggregates
from events.store.stream import StreamSpec, ensure_stream
from services.api.known_personal_data import SealedReporters
from services.embedded.nats_server import NatsServer


async def surge(
    writer: AggregateStore, complaints: int, events_each: int
) -> tuple[Incident, list[uuid.UUID]]:
    """Complaints received and linked, then called about again in rounds (one event each per round), as a
    surge's complaints collect events from the workers and staff over hours."""
    incident = Incident.declare(
        title="Substation fire", kind="power_outage", districts=[], declared_by="bench"
    )
    cases = [
        Complaint.receive(channel="hotline", description=f"No power in block {n}", received_by="bench")
        for n in range(complaints)
    ]

    async def save_all() -> None:
        for start in range(0, complaints, 2000):
            await asyncio.gather(*(writer.save(c) for c in cases[start : start + 2000]))

    await save_all()
    for start in range(0, complaints, 500):  # the incident grows as triage links reports
        for case in cases[start : start + 500]:
            incident.link_complaint(case.id)
        await writer.save(incident)
    for _ in range(events_each - 1):
        for case in cases:
            case.repeat_call("Called again: still no power", "hotline")
        await save_all()
    return incident, [c.id for c in cases]


async def mean_seconds(rounds: int, step: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        await step()
    return (time.perf_counter() - started) / rounds


async def main(args: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="levee-bench-incident-"))
    server = NatsServer(scratch / "nats").start()
    nc = await connect_nats(server.url, name="bench-big-incident")
    try:
        spec = StreamSpec(name=f"INCIDENT_{uuid.uuid4().hex[:8].upper()}")
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=60)
        async with GroupCommitter(store, max_queued=1_000_000) as committer:
            writer = AggregateStore(store, make_mapper(), appender=committer)
            incident, members = await surge(writer, args.complaints, args.events_each)
        info = await nc.jetstream().stream_info(spec.name)
        out = sys.stdout.write
        out(f"incident of {len(members):,} complaints, {args.events_each} events each; "
            f"stream {info.state.messages:,} messages, {info.state.bytes / 2**20:,.0f} MiB\n")  # fmt: skip

        whole = await mean_seconds(args.rounds, lambda: AggregateStore(store, make_mapper()).get(incident.id))
        api = AggregateStore(store, make_mapper(), held=HeldAggregates(kinds=(Incident,)))
        await api.get(incident.id)
        linker = AggregateStore(store, make_mapper())

        held = 0.0
        for _ in range(args.rounds):  # 20 links written (not timed), then the held incident read
            for _ in range(20):
                incident.link_complaint(uuid.uuid4())
            await linker.save(incident)
            held += await mean_seconds(1, lambda: api.get(incident.id)) / args.rounds
        out(f"incident read whole: {whole * 1000:,.1f} ms; held, 20 events since: {held * 1000:,.1f} ms\n")

        # Once: at 10,000 complaints it takes tens of seconds.
        histories = await mean_seconds(1, lambda: AggregateStore(store, make_mapper()).get_many(members))
        firsts = await mean_seconds(args.rounds, lambda: SealedReporters().of(members, api))
        memo = SealedReporters()
        await memo.of(members, api)
        again = await mean_seconds(args.rounds, lambda: memo.of(members, api))
        out(f"complainants for a notice: every history {histories:,.2f} s; each first event {firsts:,.2f} s; "
            f"the next notice {again * 1000:,.1f} ms\n")  # fmt: skip
    finally:
        await nc.close()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=10_000)
    parser.add_argument("--events-each", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(parser.parse_args()))
