"""The notices service's composition root: the only place that builds its connection, worker and scheduler."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from functools import partial

import structlog

from events.incident import ComplaintAddedToIncident, Incident, IncidentAbsorbed
from events.mapper import make_mapper
from events.notice import (
    Notice,
    NoticeCancelled,
    NoticeDrafted,
    NoticePublished,
    NoticeRevised,
    NoticeUpdated,
)
from events.reference import Reference, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.connection import connect_nats
from events.store.read_window import SIDE_READER_WINDOW
from events.store.shelf import Shelf, open_or_none
from events.store.stream import ensure_stream
from services.notices import handlers
from services.notices.scheduler import SummaryScheduler
from services.notices.summary import FACT_EVENTS, FactsMemo, SummaryPolicy
from services.notices.superseding import SummaryDrafts
from services.runtime.metrics import write_health
from services.runtime.worker import Clock, Handler, Worker, utc_now
from services.settings import Settings, SettingsError

log = structlog.get_logger(__name__)

WORKER_NAME = "notices"
SHELF_OWNER = f"{WORKER_NAME}.summaries"  # the summary scheduler's fold between runs


def handler_table(
    policy: SummaryPolicy,
    reference: Reference,
    memo: FactsMemo | None = None,
    drafts: SummaryDrafts | None = None,
) -> dict[type, Handler]:
    memo = memo or FactsMemo()
    return {
        ComplaintAddedToIncident: partial(
            handlers.on_complaint_added_to_incident, policy=policy, reference=reference, memo=memo
        ),
        IncidentAbsorbed: partial(
            handlers.on_incident_absorbed, policy=policy, reference=reference, memo=memo
        ),
        NoticeDrafted: partial(handlers.on_notice_drafted, drafts=drafts or SummaryDrafts()),
        NoticeRevised: handlers.on_notice_text,
        NoticeUpdated: handlers.on_notice_text,
        NoticePublished: handlers.on_notice_published,
        NoticeCancelled: handlers.on_notice_cancelled,
    }


def build(
    store: JetStreamEventStore,
    *,
    policy: SummaryPolicy | None = None,
    reference: Reference | None = None,
    clock: Clock = utc_now,
    shelf: Shelf | None = None,
) -> tuple[Worker, SummaryScheduler]:
    reference = reference or load_reference()
    policy = policy or SummaryPolicy(tz=reference.area.tz)  # the city of the reference data given
    memo = FactsMemo()  # one per process: the worker feeds it, the worker and the scheduler read it
    drafts = SummaryDrafts()  # one per process: the scheduler's reading feeds it, the worker reads it
    worker = Worker(
        WORKER_NAME,
        store,
        AggregateStore(store, make_mapper()),
        handler_table(policy, reference, memo, drafts),
        observers=dict.fromkeys(FACT_EVENTS, memo.observe),
        clock=clock,
        cache_types=(Incident, Notice),  # kept current from the stream the worker reads
        # Incidents are only read here, as of the event in hand: never loaded afresh because triage has added
        # complaints since. In a surge that reloaded every incident in full (thousands of events) on almost
        # every batch once notices was a little behind, and it then fell further behind for good.
        read_only_types=(Incident,),
    )
    scheduler = SummaryScheduler(
        store,
        AggregateStore(store, make_mapper()),
        clock=clock,
        policy=policy,
        reference=reference,
        memo=memo,
        drafts=drafts,
        shelf=shelf,
    )
    return worker, scheduler


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """`levee serve notices`: draft summaries until `stop` is set, then drain."""
    if settings.nats_url is None:
        raise SettingsError("notices needs NATS_URL (`levee up` sets it for its services)")
    async with AsyncExitStack() as stack:
        nc = await connect_nats(settings.nats_url, name=settings.service_name)
        stack.push_async_callback(nc.drain)
        spec = settings.stream_spec  # with the replicas: whichever process starts first creates the stream
        await ensure_stream(nc, spec)
        worker, scheduler = build(
            JetStreamEventStore(nc, spec, read_window=SIDE_READER_WINDOW, health=write_health()),
            reference=load_reference(settings.reference_file),
            shelf=await open_or_none(nc, spec, SHELF_OWNER),
        )
        log.info("notices_started")
        await asyncio.gather(worker.run(stop), scheduler.run(stop))
    log.info("notices_stopped")
