"""What a fault scenario checks afterwards, read from the stream itself and from PostgreSQL.

Every complaint that got a 201 is in the stream exactly once; triage decided each one exactly once
(validated, rejected or marked duplicate), every validated one was assessed, and dispatch routed each
assessed one exactly once (the drill has no staff who could return a dispatch); the live read models equal
a replay of the whole stream into fresh tables.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg

from events.store import JetStreamEventStore
from events.store.aggregates import TOPIC
from projections.rebuild import rebuild_schema
from services.triage.app import NAME as TRIAGE
from tests.integration.projections.snapshot import snapshot

DECISIONS = ("ComplaintValidated", "ComplaintRejected", "ComplaintMarkedDuplicate")


@dataclass
class Figures:
    scenario: str
    sent: int = 0
    created: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # every answer the drill got, errors too
    received_in_stream: int = 0
    validated: int = 0
    rejected: int = 0
    duplicates: int = 0
    assessments: int = 0
    dispatched: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    read_models_equal_rebuild: bool = False
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    def record(self) -> None:
        """Append to $LEVEE_FAULTS_FIGURES (JSON lines) when set: docs/reliability.md's figures come from it."""
        import os  # the one place the suite is told where to put figures

        self.seconds = round(time.monotonic() - self.started, 1)
        if target := os.environ.get("LEVEE_FAULTS_FIGURES"):
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(
                    json.dumps({k: v for k, v in asdict(self).items() if k != "started"}, ensure_ascii=False)
                    + "\n"
                )


async def read_all(store: JetStreamEventStore) -> dict[str, Counter[str]]:
    """Topic counts per aggregate id, over every event in the stream."""
    per_aggregate: dict[str, Counter[str]] = defaultdict(Counter)
    position = 0
    while messages := await store.read(after_seq=position, limit=1000):
        for message in messages:
            topic = message.headers.get(TOPIC, "").rpartition(":")[2]
            per_aggregate[message.subject.rpartition(".")[2]][topic] += 1
        position = messages[-1].seq
    return per_aggregate


async def audit_stream(
    store: JetStreamEventStore, figures: Figures, accepted: list[str], *, poison: frozenset[str] = frozenset()
) -> None:
    """Fill `figures` and its mismatches from the stream; `poison` are aggregates the test broke on purpose."""
    events = await read_all(store)
    figures.created = len(accepted)
    if len(set(accepted)) != len(accepted):
        figures.mismatches.append(f"{len(accepted) - len(set(accepted))} ids answered 201 more than once")
    for complaint_id in accepted:
        if (n := events.get(complaint_id, Counter())["ComplaintReceived"]) != 1:
            figures.mismatches.append(f"{complaint_id}: 201 but {n} ComplaintReceived")
    complaints = {i: c for i, c in events.items() if c["ComplaintReceived"] and i not in poison}
    figures.received_in_stream = sum(c["ComplaintReceived"] for c in complaints.values())
    for complaint_id, counts in complaints.items():
        figures.validated += counts["ComplaintValidated"]
        figures.rejected += counts["ComplaintRejected"]
        figures.duplicates += counts["ComplaintMarkedDuplicate"]
        figures.assessments += counts["PriorityAssessed"]
        figures.dispatched += counts["ComplaintDispatched"]
        if (decided := sum(counts[d] for d in DECISIONS)) != 1:
            figures.mismatches.append(f"{complaint_id}: decided {decided} times {dict(counts)}")
        if counts["ComplaintValidated"] and not counts["PriorityAssessed"]:
            figures.mismatches.append(f"{complaint_id}: validated, never assessed")
        if not counts["ComplaintValidated"] and counts["PriorityAssessed"]:
            figures.mismatches.append(f"{complaint_id}: assessed without validation")
        wanted = 1 if counts["PriorityAssessed"] else 0  # no staff in the drill: nothing is ever returned
        if counts["ComplaintDispatched"] != wanted:
            figures.mismatches.append(f"{complaint_id}: dispatched {counts['ComplaintDispatched']} times")
    figures.dead_letters = {
        worker: len(await store.read_subject(store.spec.dead_letter_subject(worker)))
        for worker in (TRIAGE, "dispatch", "notices")
    }


async def audit_read_models(store: JetStreamEventStore, database_url: str, figures: Figures) -> None:
    """The live tables, row for row, against a replay of the whole stream into a fresh schema."""
    conn = await asyncpg.connect(database_url)
    try:
        live = await snapshot(conn)
        rebuilt = await rebuild_schema(store, conn, swap=False)
        replayed = await snapshot(conn, rebuilt)
    finally:
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
