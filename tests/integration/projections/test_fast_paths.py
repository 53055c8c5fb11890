"""The rebuild's fast paths give exactly what the plain ones give: decoding, folding a new row's updates,
reading the whole stream and skipping what is not an event, and the rebuild's session settings."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest

from events.complaint import COMPLAINT_EVENTS
from events.mapper import make_mapper, make_transcoder
from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, VERSION
from events.store.records import StoredMessage
from projections import read_models
from projections.fold import Folding, Table, compile_insert, compile_update
from projections.migrate import migrate
from projections.ops import Derive
from projections.plan import Step, plan
from projections.rebuild import rebuild_schema
from projections.runner import execute
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.day import script, write_day
from tests.integration.projections.snapshot import snapshot


def _messages() -> list[StoredMessage]:
    """Every event of the scripted day, and a version 1 ComplaintReceived, as the stream hands them out."""
    mapper = make_mapper()
    _, aggregates = script()
    stored = [
        mapper.to_stored_event(event) for aggregate in aggregates for event in aggregate.collect_events()
    ]
    v1 = {
        "timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=UTC), "originator_topic": "events.complaint:Complaint",
        "tracking_code": "LV-7K3QX9", "channel": "hotline", "description": "Call 13800138000", "category": None,
        "lat": None, "lon": None, "district": None, "people_affected": 1, "vulnerable": [], "media_exposure": False,
        "reporter_sealed": None, "contact_hash": None, "received_by": "operator-chen",
    }  # fmt: skip
    old = make_transcoder().encode(v1)
    messages = [
        StoredMessage(
            n, f"levee.ev.{s.originator_id}", s.state, {TOPIC: s.topic, VERSION: str(s.originator_version)}
        )
        for n, s in enumerate(stored, start=1)
    ]
    topic = "events.complaint:ComplaintReceived"
    messages.append(
        StoredMessage(len(messages) + 1, f"levee.ev.{uuid4()}", old, {TOPIC: topic, VERSION: "1"})
    )
    return messages


def test_the_decoder_gives_the_mappers_events_upcasts_included() -> None:
    decode = read_models.Decoder()
    mapper = make_mapper()
    kinds = set()
    for message in _messages():
        fast = decode(message)
        plain = mapper.to_domain_event(decode.stored_event(message, message.headers[TOPIC]))
        assert type(fast) is type(plain) and fast.__dict__ == plain.__dict__
        kinds.add(type(fast))
    assert len(kinds) >= 20 and kinds & set(COMPLAINT_EVENTS)
    assert "public_description" in decode(_messages()[-1]).__dict__  # v1 went through v2 and v3


async def execute_in(pg: asyncpg.Connection, schema: str, steps: list[Step]) -> None:
    """Planned steps run in `schema`, in one transaction."""
    async with pg.transaction():
        await pg.execute(f"SET LOCAL search_path TO {schema}")
        await execute(pg, steps)


async def _ops_of_day(store: JetStreamEventStore) -> list[object]:
    decode = read_models.Decoder()
    messages = await store.read(after_seq=0, limit=1000)
    return [op for event in map(decode, messages) if event is not None for op in read_models.apply(event)]


async def test_folding_new_rows_gives_the_rows_the_statements_give(
    store: JetStreamEventStore, pg: asyncpg.Connection
) -> None:
    for _ in range(2):
        await write_day(store)
    ops = await _ops_of_day(store)
    for schema in ("plain", "folded"):
        await migrate(pg, schema)
    folding = await Folding.load(pg, "folded")
    folded = plan(ops, folding)  # type: ignore[arg-type]
    # Every complaint is created in the batch, so none of their UPDATEs is left to run as SQL but an erasure's
    # (its regexp_replace is outside what folding understands; erasures are rare, and the last of a case)...
    left = [step for step in folded if step.sql.startswith("UPDATE complaints")]
    assert left and all("regexp_replace" in step.sql for step in left)
    # ...while a statement outside what folding understands (COALESCE) runs as SQL after its row.
    assert [step for step in folded if "COALESCE" in step.sql]
    await execute_in(pg, "plain", plan(ops))  # type: ignore[arg-type]
    await execute_in(pg, "folded", folded)
    assert await snapshot(pg, "folded") == await snapshot(pg, "plain")


async def test_merging_an_existing_rows_changes_gives_the_rows_the_statements_give(
    store: JetStreamEventStore, pg: asyncpg.Connection
) -> None:
    """A live batch mostly changes rows made in earlier batches: each row read once, written once."""
    for _ in range(2):
        await write_day(store)
    decode = read_models.Decoder()
    events = [event for event in map(decode, await store.read(after_seq=0, limit=1000)) if event is not None]
    # One complaint no batch creates: its changes change no row, as its UPDATEs would not.
    missing = next(event.originator_id for event in events if type(event).__name__ == "ComplaintReceived")
    created = [
        op
        for event in events
        if event.originator_version == 1 and event.originator_id != missing
        for op in read_models.apply(event)
    ]
    changed = [op for event in events if event.originator_version > 1 for op in read_models.apply(event)]
    for schema in ("plain", "merged"):
        await migrate(pg, schema)
        await execute_in(pg, schema, plan(created))
    merged = plan(changed, await Folding.load(pg, "merged"))
    merges = [step.merge for step in merged if step.merge is not None]
    assert {merge.table for merge in merges} >= {"complaints", "incidents"}
    rows = [changes for merge in merges for changes in merge.changes.values()]
    # Every merged row has two changes or more (one goes as its statement), Derives among them...
    assert min(map(len, rows)) >= 2 and any(isinstance(op, Derive) for row in rows for op, _ in row)
    # ...and far fewer complaint UPDATEs are left than there were.
    left = sum(len(step.rows) for step in merged if step.sql.startswith("UPDATE complaints"))
    before = sum(len(step.rows) for step in plan(changed) if step.sql.startswith("UPDATE complaints"))
    assert left * 3 < before
    await execute_in(pg, "plain", plan(changed))
    await execute_in(pg, "merged", merged)
    assert await snapshot(pg, "merged") == await snapshot(pg, "plain")
    assert await pg.fetchval("SELECT count(*) FROM merged.complaints WHERE id = $1", missing) == 0
    assert missing in {row_id for merge in merges for row_id in merge.changes}


async def test_a_live_run_event_by_event_and_a_rebuild_give_the_same_tables(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    for _ in range(10):  # over a thousand events: the rebuild joins several reads into one batch
        await write_day(store)
    runner = await make_runner(batch_size=1)
    await runner.catch_up()
    thresholds = gc.get_threshold()
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == await snapshot(pg)
    assert gc.get_threshold() == thresholds and await pg.fetchval("SHOW synchronous_commit") == "on"


async def test_the_runner_reads_past_messages_that_are_not_events(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    spec = store.spec
    others = [
        Write(spec.tracking_subject("triage"), b"{}"),
        Write(spec.snapshot_subject("index", "x"), b"{}"),
    ]
    await store.append(others)
    day = await write_day(store)
    await store.append(others)
    runner = await make_runner(batch_size=50)
    assert await runner.catch_up() == day.events  # events only
    assert runner.position == await store.last_sequence()
    rows = await pg.fetchval("SELECT count(*) FROM levee_read.complaints")
    assert rows == len(day.complaints)
    # A batch of nothing but other messages moves the position and tells the board nothing.
    await store.append(others)
    messages = await store.read(after_seq=runner.position, limit=10, subject=">")
    batch = await runner.prepare(messages, after=runner.position)
    assert (batch.events, batch.steps, batch.payload) == (0, [], None)
    assert await runner.commit(batch) == 0 and runner.position == await store.last_sequence()


async def test_a_dead_letter_is_folded_into_its_table_and_tells_the_board(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    spec = store.spec
    record = {"worker": "dispatch", "seq": 41, "subject": f"{spec.prefix}.ev.x", "error": "KeyError('x')",
              "topic": "events.complaint:ComplaintReceived", "attempts": 5, "at": "2026-07-01T08:00:00+00:00"}  # fmt: skip
    positions = await store.append(
        [
            Write(spec.dead_letter_subject("dispatch"), json.dumps(record).encode()),
            Write(spec.dead_letter_subject("triage"), b"not json"),
        ]
    )
    runner = await make_runner(batch_size=50)
    messages = await store.read(after_seq=0, limit=10, subject=">")
    batch = await runner.prepare(messages, after=0)
    assert (batch.events, batch.dead_letters) == (0, 2)
    assert batch.payload is not None and json.loads(batch.payload)["tables"] == ["dead_letters"]
    await runner.commit(batch)
    rows = [dict(r) for r in await pg.fetch("SELECT * FROM levee_read.dead_letters ORDER BY position")]
    assert [(r["position"], r["worker"], r["event_position"], r["attempts"]) for r in rows] == [
        (positions[0], "dispatch", 41, 5), (positions[1], "triage", None, None)]  # fmt: skip
    assert rows[0]["error"] == "KeyError('x')" and rows[0]["at"].isoformat() == "2026-07-01T08:00:00+00:00"
    # An unreadable record still shows that something was set aside, at the time the stream stored it.
    assert "unreadable" in rows[1]["error"] and rows[1]["at"] is not None
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == await snapshot(pg)


TABLE = Table(
    "t",
    {
        "id": "uuid",
        "status": "text",
        "n": "integer",
        "flag": "boolean",
        "doc": "jsonb",
        "at": "timestamp with time zone",
    },
    {"id": None, "status": None, "n": 0, "flag": False, "doc": "[]", "at": None},
)


@pytest.mark.parametrize(
    ("sql", "args", "row"),
    [
        ("UPDATE t SET status = 'open', n = n + 2, flag = true WHERE id = $1", (1,), ("open", 2, True)),
        ("UPDATE t SET status = $2, doc = $3::jsonb, n = n WHERE id = $1", (1, "x", "{}"), ("x", 0, False)),
        ("UPDATE t SET status = CASE WHEN status = 'new' THEN 'seen' ELSE status END WHERE id = $1", (1,),
         ("seen", 0, False)),
        ("UPDATE t SET status = NULL, n = 5 WHERE id = $1", (1,), (None, 5, False)),
    ],
)  # fmt: skip
def test_folding_applies_the_statements_it_understands(
    sql: str, args: tuple[object, ...], row: tuple
) -> None:  # type: ignore[type-arg]
    insert = compile_insert("INSERT INTO t (id, status) VALUES ($1, 'new')", {"t": TABLE})
    update = compile_update(sql, TABLE)
    assert insert is not None and update is not None
    values = insert.row((1,))
    assert update.apply(values, args)
    assert (values["status"], values["n"], values["flag"]) == row


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET n = n + 1 WHERE id = $2",  # another row
        "UPDATE t SET at = COALESCE(at, $2) WHERE id = $1",  # a function
        "UPDATE t SET n = $2::int WHERE id = $1",  # a cast that may change the value
        "UPDATE t SET flag = 'yes' WHERE id = $1",  # text into a boolean: PostgreSQL's rules, not ours
        "UPDATE t SET status = 'a', status = 'b' WHERE id = $1",
        "UPDATE t SET n = n * 2 WHERE id = $1",
        "UPDATE t SET status = CASE WHEN n > 0 THEN 'x' ELSE status END WHERE id = $1",
        "UPDATE t SET missing = 1 WHERE id = $1",
    ],
)
def test_folding_leaves_other_statements_to_postgresql(sql: str) -> None:
    assert compile_update(sql, TABLE) is None


def test_folding_only_takes_plain_inserts() -> None:
    tables = {"t": TABLE}
    assert compile_insert("INSERT INTO t (id, n) VALUES ($1, 1) ON CONFLICT (id) DO NOTHING", tables) is None
    assert compile_insert("INSERT INTO t (id, n) VALUES ($1, (1))", tables) is None
    assert compile_insert("INSERT INTO u (id) VALUES ($1)", tables) is None


async def test_defaults_are_the_tables_own(pg: asyncpg.Connection) -> None:
    folding = await Folding.load(pg, "levee_read")
    complaints = folding.tables["complaints"]
    assert (complaints.defaults["dispatch_count"], complaints.defaults["vulnerable"]) == (0, [])
    assert json.loads(complaints.defaults["factors"]) == [] and complaints.defaults["level"] is None
