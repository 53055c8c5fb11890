"""Dispatch's composition root: the only place that builds its connections, tables and workers.

Two loops share one NATS connection: the worker (routing and immediate escalation, driven by the stream,
exactly once through its tracking record) and the deadline watcher (driven by the clock).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

import structlog
from nats.aio.client import Client as NATS

from events.complaint import (
    Complaint,
    ComplaintResolved,
    ComplaintValidated,
    DispatchReturned,
    PriorityAssessed,
)
from events.mapper import make_mapper
from events.reference import Reference, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.read_window import SIDE_READER_WINDOW
from events.store.shelf import Shelf, open_or_none
from events.store.stream import StreamSpec, ensure_stream
from services.dispatch import handlers
from services.dispatch.command_queue import with_command_queue
from services.dispatch.deadlines import DeadlineWatcher
from services.dispatch.rules import RoutingTable, load_routing
from services.runtime.metrics import write_health
from services.runtime.worker import Clock, Handler, Worker, utc_now
from services.settings import Settings, SettingsError

log = structlog.get_logger(__name__)

WORKER_NAME = "dispatch"
SHELF_OWNER = f"{WORKER_NAME}.deadlines"


def handler_table(routing: RoutingTable, reference: Reference) -> dict[type, Handler]:
    return {
        ComplaintValidated: partial(handlers.on_complaint_validated, routing=routing, reference=reference),
        PriorityAssessed: partial(handlers.on_priority_assessed, routing=routing, reference=reference),
        ComplaintResolved: partial(handlers.on_complaint_resolved, routing=routing, reference=reference),
        DispatchReturned: partial(handlers.on_dispatch_returned, routing=routing, reference=reference),
    }


def build(
    store: JetStreamEventStore,
    *,
    routing_path: Path | None = None,
    reference_path: Path | None = None,
    clock: Clock = utc_now,
    shelf: Shelf | None = None,
) -> tuple[Worker, DeadlineWatcher]:
    """The worker and the watcher on one store; tests build them here too, with their own clock. `shelf`: where
    the watcher keeps its schedule between runs (None: it folds the stream from the start at every start)."""
    base = load_reference(reference_path)  # None: the packaged reference data
    routing = load_routing(base, routing_path)
    reference = with_command_queue(base, routing.command)
    repository = AggregateStore(store, make_mapper())
    # Complaints stay cached, kept current from the stream the worker reads: no load per handled event.
    worker = Worker(WORKER_NAME, store, repository, handler_table(routing, reference), clock=clock,
                    cache_types=(Complaint,))  # fmt: skip
    watcher = DeadlineWatcher(
        store, AggregateStore(store, make_mapper()), clock=clock, reference=reference, shelf=shelf
    )
    return worker, watcher


async def open_shelf(nc: NATS, spec: StreamSpec, *, timeout: float = 5.0) -> Shelf | None:
    """The deadline watcher's shelf (opened at its first use when NATS does not answer now), or None (logged
    `shelf_unavailable`: a bucket it cannot trust): it then folds the whole stream at every start."""
    return await open_or_none(nc, spec, SHELF_OWNER, timeout=timeout)


def routing_file(settings: Settings) -> Path | None:
    """The deployment's routing table: LEVEE_ROUTING (a mounted file: in Kubernetes the data directory is not
    kept), else a routing.toml dropped next to its data; None: the packaged one."""
    if settings.routing_file is not None:
        return settings.routing_file
    dropped = settings.data_dir / "routing.toml"
    return dropped if dropped.is_file() else None


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """`levee serve dispatch`: route and watch deadlines until `stop` is set, then drain."""
    if settings.nats_url is None:
        raise SettingsError("dispatch needs NATS_URL (`levee up` sets it for its services)")
    routing_path = routing_file(settings)
    async with AsyncExitStack() as stack:
        nc = await connect_nats(settings.nats_url, name=settings.service_name)
        stack.push_async_callback(nc.drain)
        spec = settings.stream_spec  # with the replicas: whichever process starts first creates the stream
        await ensure_stream(nc, spec)
        worker, watcher = build(
            JetStreamEventStore(nc, spec, read_window=SIDE_READER_WINDOW, health=write_health()),
            routing_path=routing_path,
            reference_path=settings.reference_file,
            shelf=await open_shelf(nc, spec),
        )
        log.info("dispatch_started", routing=str(routing_path or "packaged"))
        await asyncio.gather(worker.run(stop), watcher.run(stop))
    log.info("dispatch_stopped")
