"""What a fault scenario checks afterwards, read from the stream itself and from PostgreSQL.

Every complaint that got a 201 is in the stream exactly once; every effect a worker writes is there once
per cause and never twice (tests/faults/effects.py has the rules, one per idempotency key), and so is every
effect of what the scenario's staff did through the API (merges, bulk accepts, re-drives); the live read
models equal a replay of the whole stream into fresh tables.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from events.complaint import ComplaintReceived
from events.incident import IncidentDeclared
from events.mapper import make_mapper
from events.notice import NoticeDrafted
from events.reference import Reference, configure_reference, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from projections.rebuild import rebuild_schema
from services.dispatch.rules import load_routing
from services.notices.summary import SummaryPolicy, slot_occasion
from services.triage.app import NAME as TRIAGE
from tests.faults import effects
from tests.integration.projections.snapshot import snapshot

WORKERS = (TRIAGE, "dispatch", "notices")


@dataclass
class Figures:
    scenario: str
    sent: int = 0
    created: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # each submission's last answer, errors too
    retried: dict[str, int] = field(default_factory=dict)  # tries answered 503 (or not at all), sent again
    replayed: int = 0  # 201s that replayed an earlier try's complaint (it was stored, its answer lost)
    received_in_stream: int = 0
    events_in_stream: int = 0
    effects: dict[str, int] = field(default_factory=dict)  # by kind (effects.py)
    staff: dict[str, int] = field(default_factory=dict)  # the simulated desks' actions, by kind:status
    actions: dict[str, int] = field(default_factory=dict)  # the scenario's own API actions and when it killed
    dead_letters: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    read_models_equal_rebuild: bool = False
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)
    began_at: datetime = field(default_factory=lambda: datetime.now(UTC), repr=False)

    def record(self) -> None:
        """Append to $LEVEE_FAULTS_FIGURES (JSON lines) when set: docs/reliability.md's figures come from it."""
        import os  # the one place the suite is told where to put figures

        self.seconds = round(time.monotonic() - self.started, 1)
        if target := os.environ.get("LEVEE_FAULTS_FIGURES"):
            hidden = ("started", "began_at")
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(
                    json.dumps({k: v for k, v in asdict(self).items() if k not in hidden}, ensure_ascii=False)
                    + "\n"
                )


@dataclass
class Stream:
    histories: effects.Histories = field(default_factory=dict)  # decodable aggregates only
    undecodable: set[UUID] = field(default_factory=set)
    events: int = 0


async def read_all(store: JetStreamEventStore) -> Stream:
    """Every event in the stream, decoded, per aggregate; one with an undecodable event is set apart."""
    repository = AggregateStore(store, make_mapper())
    read: dict[UUID, list[Any]] = defaultdict(list)
    stream, position = Stream(), 0
    while messages := await store.read(after_seq=position, limit=1000):
        for message in messages:
            aggregate_id = UUID(message.subject.rpartition(".")[2])
            stream.events += 1
            try:
                read[aggregate_id].append(repository.to_domain_event(aggregate_id, message))
            except Exception:  # a poison event a scenario wrote on purpose: counted, never decoded
                stream.undecodable.add(aggregate_id)
        position = messages[-1].seq
    stream.histories = {i: events for i, events in read.items() if i not in stream.undecodable and events}
    return stream


async def audit_stream(
    store: JetStreamEventStore,
    figures: Figures,
    accepted: list[str],
    *,
    poison: frozenset[str] = frozenset(),
    reference: Reference | None = None,
    watched_at: datetime | None = None,
    bulk_accepted: Collection[tuple[str, str]] | None = None,
) -> None:
    """Fill `figures` and its mismatches from the stream; `poison` are aggregates the test broke on purpose.

    `watched_at`: a moment the deadline watcher is known to have looked at, so every deadline missed by then
    must be recorded (None when the scenario cannot tell). `bulk_accepted`: (complaint id, the department
    whose bulk accept answered that it signed for it)."""
    stream = await read_all(store)
    figures.events_in_stream = stream.events
    figures.created = len(accepted)
    if len(set(accepted)) != len(accepted):
        figures.mismatches.append(f"{len(accepted) - len(set(accepted))} ids answered 201 more than once")
    if unexpected := {str(i) for i in stream.undecodable} - poison:
        figures.mismatches.append(f"undecodable aggregates nobody poisoned: {sorted(unexpected)[:3]}")
    kinds = effects.split(stream.histories)
    complaints = kinds.get(ComplaintReceived, {})
    for complaint_id in accepted:
        events = complaints.get(UUID(complaint_id), [])
        if (n := sum(isinstance(e, ComplaintReceived) for e in events)) != 1:
            figures.mismatches.append(f"{complaint_id}: 201 but {n} ComplaintReceived")
    figures.received_in_stream = len(complaints)
    reference = reference or load_reference()
    found = effects.Effects()
    incidents = kinds.get(IncidentDeclared, {})
    effects.triage(complaints, kinds, found)
    effects.merges(complaints, incidents, found)
    effects.dispatch(complaints, load_routing(reference), reference, found, watched_at=watched_at)
    effects.acceptances(complaints, {(UUID(i), d) for i, d in (bulk_accepted or ())}, found)
    policy = SummaryPolicy()
    now = datetime.now(UTC)
    periods = {slot_occasion(figures.began_at + policy.every * n, policy.every) for n in range(-1, 2)}
    periods.add(slot_occasion(now, policy.every))
    effects.notices(incidents, kinds.get(NoticeDrafted, {}), policy, periods, found)
    effects.live_summaries(kinds.get(NoticeDrafted, {}), found)
    figures.dead_letters = {}
    for worker in WORKERS:
        dead = await records(store, store.spec.dead_letter_subject(worker))
        requests = await records(store, store.spec.retry_subject(worker))
        retried = await records(store, store.spec.retried_subject(worker))
        figures.dead_letters[worker] = len(dead)
        effects.redrives(worker, dead, requests, retried, found)
    figures.effects = dict(sorted(found.counts.items()))
    figures.mismatches.extend(found.mismatches)


async def records(store: JetStreamEventStore, subject: str) -> list[tuple[int, dict[str, Any]]]:
    """Each record on a subject of the worker's own (dead letters, retry requests, outcomes): position, JSON."""
    return [(m.seq, json.loads(m.data)) for m in await store.read_subject(subject)]


async def unrecorded_misses(store: JetStreamEventStore, reference: Reference, at: datetime) -> int:
    """How many deadlines missed by `at` the stream has no watcher escalation for (yet)."""
    complaints = effects.split((await read_all(store)).histories).get(ComplaintReceived, {})
    return sum(
        len(effects.deadlines_unrecorded(i, events, reference, at)) for i, events in complaints.items()
    )


async def audit_read_models(
    store: JetStreamEventStore, database_url: str, figures: Figures, *, reference_file: Path | None = None
) -> None:
    """The live tables, row for row, against a replay of the whole stream into a fresh schema.

    The replay reads the deployment's reference data, as `levee rebuild` does under LEVEE_REFERENCE: the
    board's deadlines come from it."""
    conn = await asyncpg.connect(database_url)
    configure_reference(reference_file)
    try:
        live = await snapshot(conn)
        rebuilt = await rebuild_schema(store, conn, swap=False)
        replayed = await snapshot(conn, rebuilt)
    finally:
        configure_reference(None)  # the test process's own default again
        await conn.close()
    figures.read_models_equal_rebuild = live == replayed
    for table in live:
        if live[table] != replayed[table]:
            only_live = set(live[table]) - set(replayed[table])
            only_replay = set(replayed[table]) - set(live[table])
            figures.mismatches.append(
                f"read model {table}: {len(only_live)} rows only live, {len(only_replay)} only in the rebuild, "
                f"e.g. {sorted(only_live)[:1]} vs {sorted(only_replay)[:1]}"
            )
