"""`levee serve triage`: the composition root, the only place triage constructs anything."""

from __future__ import annotations

import asyncio
import functools
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

import structlog

from events.complaint import (
    Complaint,
    ComplaintCallRepeated,
    ComplaintReceived,
    ComplaintReinstated,
    ComplaintReopened,
)
from events.incident import Incident, IncidentAbsorbed
from events.mapper import make_mapper
from events.reference import load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from services.runtime.metrics import write_health
from services.runtime.worker import Handler, Worker
from services.triage import handlers
from services.triage.indexes import Cluster, ContactIndex
from services.triage.rules import load_rules

log = structlog.get_logger(__name__)
NAME = "triage"


class TriageSettings(Protocol):
    """What triage reads from services.settings.Settings (read-only: Settings is a frozen dataclass)."""

    @property
    def nats_url(self) -> str | None: ...

    @property
    def nats_stream(self) -> str: ...

    @property
    def stream_replicas(self) -> int: ...

    @property
    def triage_rules(self) -> Path | None: ...

    @property
    def reference_file(self) -> Path | None: ...


def build_handlers(deps: handlers.Deps) -> dict[type, Handler]:
    return {
        ComplaintReceived: functools.partial(handlers.on_complaint_received, deps=deps),
        ComplaintCallRepeated: functools.partial(handlers.on_complaint_call_repeated, deps=deps),
        ComplaintReopened: functools.partial(handlers.on_complaint_reopened, deps=deps),
        ComplaintReinstated: functools.partial(handlers.on_complaint_reinstated, deps=deps),
        IncidentAbsorbed: functools.partial(handlers.on_incident_absorbed, deps=deps),
    }


def build_worker(store: JetStreamEventStore, deps: handlers.Deps, **options: Any) -> Worker:
    # Triage's own indexes and clusters, incidents and complaints stay cached across batches, kept current from
    # the stream the worker reads (see Worker._feed); every save still carries the expected sequence.
    options.setdefault("cache_types", (ContactIndex, Cluster, Incident, Complaint))
    # Batches of up to 1,000 stream messages. Each batch is a chain of round trips to nats-server (read, read
    # ahead, prefetch, plan, commit), and in a surge each waits on a busy server: with 250, triage fell behind
    # for good at 250 complaints/s (bench/e2e.py --rates 250 --seconds 120: lag 19,584 and 32,426 after two
    # minutes, against at most 2,433 with 1,000; at 300/s 13,676 against 54,833-72,206). Alone with dispatch
    # (bench/surge.py) 250 was slightly faster: 591 against 574 complaints/s, fewer batches redone (11 against 40).
    options.setdefault("batch_size", 1000)
    # And what dispatch wrote since is fed to the cache before each batch (Worker._read_ahead).
    options.setdefault("read_ahead", True)
    options.setdefault("planner", functools.partial(handlers.plan, deps=deps))
    return Worker(NAME, store, AggregateStore(store, make_mapper()), build_handlers(deps), **options)


def default_deps(rules_path: Path | None = None, reference_path: Path | None = None) -> handlers.Deps:
    """The rules and reference data a deployment configured; ``None`` means the packaged file."""
    reference = load_reference(reference_path)
    # Rules are checked against the reference in use, so a replaced reference re-parses the rules too.
    replaced = rules_path is not None or reference_path is not None
    return handlers.Deps(rules=load_rules(rules_path, reference if replaced else None), reference=reference)


async def run(settings: TriageSettings, stop: asyncio.Event) -> None:
    """Process the stream until `stop` is set; the batch in hand is committed first."""
    if not settings.nats_url:
        raise ValueError("triage needs NATS_URL (`levee up` sets it for its services)")
    deps = default_deps(settings.triage_rules, settings.reference_file)  # a deployment's own files, if set
    async with AsyncExitStack() as stack:
        nc = await connect_nats(settings.nats_url, name=getattr(settings, "service_name", NAME))
        stack.push_async_callback(nc.drain)
        # With the replicas set: whichever process starts first creates the stream (R3 in a cluster).
        spec = StreamSpec(name=settings.nats_stream, replicas=settings.stream_replicas)
        await ensure_stream(nc, spec)
        worker = build_worker(JetStreamEventStore(nc, spec, health=write_health()), deps)
        log.info(
            "triage_starting",
            stream=spec.name,
            rules=deps.rules.version,
            rules_file=str(settings.triage_rules or "packaged"),
            reference_file=str(settings.reference_file or "packaged"),
        )
        await worker.run(stop)
    log.info("triage_stopped")
