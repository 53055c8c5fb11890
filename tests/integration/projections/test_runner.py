"""The runner against real NATS and PostgreSQL: exactly once, lag, fail-closed, notifications, SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
import structlog
from prometheus_client import REGISTRY

from events.mapper import make_mapper
from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, VERSION, AggregateStore
from events.store.errors import StreamGap
from events.store.records import StoredMessage
from projections.rebuild import rebuild_schema
from projections.runner import CHANNEL
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.day import _receive as receive
from tests.integration.projections.day import write_day
from tests.integration.projections.snapshot import snapshot
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


async def test_projection_ignores_a_batch_it_already_applied(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    day = await write_day(store)
    runner = await make_runner()
    assert await runner.catch_up() == day.events
    before = await snapshot(pg)
    first_batch = await store.read(after_seq=0, limit=20)

    runner.position = 0  # as if the commit had happened but the runner had not heard of it
    assert await runner.apply_messages(first_batch) == 0
    assert runner.position == day.events  # resynchronised from the tracking row
    rival = await make_runner()  # a second instance that starts late
    rival.position = 0
    assert await rival.apply_messages(first_batch) == 0
    assert await snapshot(pg) == before


async def test_two_runners_racing_apply_every_event_once(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    for _ in range(5):
        await write_day(store)
    rivals = [await make_runner(batch_size=7) for _ in range(3)]
    await asyncio.gather(*(r.catch_up() for r in rivals))
    for rival in rivals:
        await rival.catch_up()
    live = await snapshot(pg)
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == live


async def test_catching_up_applies_what_was_stored_even_when_a_read_finds_nothing_yet(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """nats-server may answer a pull sent the moment a message is stored with "nothing": its consumer had not
    yet been told. A rebuild or a swap then stopped short of the stream's end (1 read in 75 on a busy machine).
    Here the first read answers nothing, as the server does then."""
    day = await write_day(store)
    runner = await make_runner()
    read = runner._read
    reads = 0

    async def first_finds_nothing(after: int, limit: int) -> list[StoredMessage]:
        nonlocal reads
        reads += 1
        return [] if reads == 1 else await read(after, limit)

    runner._read = first_finds_nothing  # type: ignore[method-assign]
    assert await runner.catch_up() == day.events
    assert runner.position == await store.last_sequence()
    assert reads > 1


async def test_lag_counts_the_events_after_the_runners_position(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    day = await write_day(store)
    runner = await make_runner(batch_size=10)
    assert await runner.lag() == day.events
    assert await runner.process_batch() == 10
    assert await runner.lag() == day.events - 10
    await runner.catch_up()
    assert await runner.lag() == 0
    await write_day(store)
    assert await runner.lag() == day.events


async def test_projection_refuses_to_start_when_the_stream_lost_what_it_applied(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    await write_day(store)
    await pg.execute(
        "INSERT INTO levee_read.projection_tracking (name, position) VALUES ('read_models', 999999)"
    )
    with pytest.raises(StreamGap, match="lost"):
        await make_runner()


async def test_projection_refuses_to_start_when_the_stream_lost_only_its_last_event(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """NATS restored without the last acknowledged event: the board holds a row the stream no longer has, and
    the next event stored would take its position and be skipped. One event lost is a gap like any other."""
    await write_day(store)
    last = await store.last_sequence()
    await pg.execute(
        "INSERT INTO levee_read.projection_tracking (name, position) VALUES ('read_models', $1)", last + 1
    )
    with pytest.raises(StreamGap, match="lost"):
        await make_runner()
    await pg.execute(
        "UPDATE levee_read.projection_tracking SET position = $1 WHERE name = 'read_models'", last
    )
    assert (await make_runner()).position == last  # all it applied is still there: it starts


async def test_each_commit_notifies_the_board_with_position_and_what_changed(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    day = await write_day(store)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await pg.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
    runner = await make_runner(batch_size=1000)
    await runner.catch_up()
    async with asyncio.timeout(10):
        payload = json.loads(await heard.get())
    await pg.remove_listener(CHANNEL, lambda *args: None)
    assert payload["position"] == day.events
    assert {"complaints", "complaint_timeline", "hotspots", "incidents", "notices"} <= set(payload["tables"])
    assert payload["events"]["ComplaintReceived"] == 7


async def test_sigkilled_projector_restarted_counts_nothing_twice(
    store: JetStreamEventStore, pg: asyncpg.Connection, nats_url: str, database_url: str
) -> None:
    for _ in range(12):
        await write_day(store)
    total = await store.last_sequence()
    rng = random.Random(11)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.integration.projections.run_projector", nats_url, store.spec.name,
               database_url, "50"]  # fmt: skip

    async def position() -> int:
        return int(await pg.fetchval("SELECT position FROM levee_read.projection_tracking") or 0)

    kills = 0
    async with asyncio.timeout(120):
        while await position() < total:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                before = await position()
                while await position() == before and process.poll() is None:
                    await asyncio.sleep(0.005)  # bounded by the timeout above
                await asyncio.sleep(rng.uniform(0, 0.03))  # then a random moment, mid-batch or between
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            kills += 1
    assert kills >= 3
    live = await snapshot(pg)
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == live
    assert sum(int(row.split(",")[-1].rstrip(")")) for row in live["hotspots"]) == 12 * 7


async def test_a_malformed_or_foreign_message_is_skipped_and_the_board_keeps_going(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    import uuid

    from events.store import Write

    junk = [
        Write(store.spec.event_subject(uuid.uuid4()), b"not an event"),  # no topic header at all
        Write(store.spec.event_subject(uuid.uuid4()), b"{}", {"Levee-Topic": "services.triage.indexes:X"}),
        Write(
            store.spec.event_subject(uuid.uuid4()),
            b"{broken",
            {"Levee-Topic": "events.complaint:ComplaintReceived", "Levee-Version": "1"},
        ),  # an event whose state cannot be decoded
    ]
    await store.append(junk)
    day = await write_day(store)
    runner = await make_runner()
    await runner.catch_up()
    assert runner.position == await store.last_sequence()  # past the junk, not stuck on it
    live = await snapshot(pg)
    rows = await pg.fetchval("SELECT count(*) FROM levee_read.complaints")
    assert rows == len(day.complaints)
    await rebuild_schema(store, pg)  # a replay from zero meets the same junk and gives the same tables
    assert await snapshot(pg) == live


async def test_a_batch_postgresql_keeps_refusing_is_retried_ever_later_then_applied(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """As on a full disk: every batch fails until PostgreSQL takes rows again; then nothing is missing."""
    await pg.execute("ALTER TABLE levee_read.complaints ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    day = await write_day(store)
    end = await store.last_sequence()
    runner = await make_runner()
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as captured:
        running = asyncio.create_task(runner.run(stop))
        try:

            def failures() -> list[dict[str, object]]:
                return [e for e in captured if e["event"] == "projection_batch_failed"]

            await wait_until(lambda: len(failures()) >= 4, "four failed batches")
            assert [e["retry_in"] for e in failures()[:4]] == [0.2, 0.4, 0.8, 1.6]
            assert runner.position == 0  # nothing of a refused batch was kept
            await pg.execute("ALTER TABLE levee_read.complaints DROP CONSTRAINT refuse_all")
            await wait_until(lambda: runner.position >= end, "the day applied", bound=30)
        finally:
            stop.set()
            await running
    assert await pg.fetchval("SELECT count(*) FROM levee_read.complaints") == len(day.complaints)


async def test_an_event_of_a_newer_version_is_skipped_counted_and_the_board_goes_on(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """An upgrade rolled out of order: the API writes an event type the running projector does not know. It is
    skipped, so the board goes on for everyone, and counted, so an alert says a rebuild is due (it was silent;
    found by a review of event versions)."""
    day = await write_day(store)
    newer = Write(store.spec.event_subject(uuid.uuid4()), b'{"timestamp": "2026-12-07T01:00:00+00:00"}',
                  headers={TOPIC: "events.complaint:ComplaintOwnerChanged", VERSION: "1"})  # fmt: skip
    await store.append([newer])
    before = REGISTRY.get_sample_value("levee_projection_undecodable_events_total") or 0.0
    runner = await make_runner()
    assert await runner.catch_up() == day.events + 1
    assert runner.position == await store.last_sequence()
    assert REGISTRY.get_sample_value("levee_projection_undecodable_events_total") == before + 1


@pytest.mark.parametrize(
    "change",
    [
        lambda state: state.pop("tracking_code"),  # the model cannot apply it
        lambda state: state.__setitem__("people_affected", "many"),  # PostgreSQL refuses the row
        lambda state: state.__setitem__("people_affected", 10**12),  # out of the column's range
        lambda state: state.__setitem__(
            "class_version", 99
        ),  # a newer Levee's: read as ours, it would be wrong
    ],
    ids=["missing-field", "wrong-type", "out-of-range", "newer-version"],
)
# With 60 complaints on either side, the batch's rows go by COPY, where asyncpg refuses a value in other words.
@pytest.mark.parametrize("around", [0, 60], ids=["few-rows", "copy"])
async def test_an_event_that_decodes_but_cannot_be_applied_is_skipped_and_the_board_keeps_going(
    store: JetStreamEventStore,
    pg: asyncpg.Connection,
    make_runner: MakeRunner,
    change: Callable[[dict[str, object]], object],
    around: int,
) -> None:
    """Valid JSON of a known topic, but not what its model expects: the projector died on it at every restart
    (the board stopped city-wide, and `levee rebuild` failed the same way), or PostgreSQL refused its batch
    and the projector retried it for ever (found by a review of the projector)."""
    first = await write_day(store)
    repository = AggregateStore(store, make_mapper())
    for _ in range(around):
        await repository.save(receive("flooding", 22.7, 113.8))
    received = next(
        m
        for m in await store.read(after_seq=0, limit=1000)
        if m.headers.get(TOPIC, "").endswith(":ComplaintReceived")
    )
    state = json.loads(received.data)
    change(state)
    headers = {k: v for k, v in received.headers.items() if k.startswith("Levee-")}
    poison = store.spec.event_subject(uuid.uuid4())
    await store.append([Write(poison, json.dumps(state).encode(), headers, expected_last_seq=0)])
    for _ in range(around):
        await repository.save(receive("flooding", 22.7, 113.8))
    second = await write_day(store)  # later complaints the board must show
    runner = await make_runner()
    before = REGISTRY.get_sample_value("levee_projection_undecodable_events_total") or 0.0
    with structlog.testing.capture_logs() as captured:
        await runner.catch_up()
    assert runner.position == await store.last_sequence()
    rows = await pg.fetchval("SELECT count(*) FROM levee_read.complaints")
    assert rows == len(first.complaints) + len(second.complaints) + 2 * around
    assert REGISTRY.get_sample_value("levee_projection_undecodable_events_total") == before + 1
    assert [e["event"] for e in captured if e["log_level"] == "error"] in (
        ["projection_undecodable_event"],
        ["projection_unusable_event"],
    )
    live = await snapshot(pg)
    await rebuild_schema(store, pg)  # a replay from zero skips it too, and gives the same tables
    assert await snapshot(pg) == live


async def test_a_batch_whose_position_cannot_be_stored_leaves_none_of_its_rows(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """A batch's rows and the projector's position are one transaction: rows without their position would be
    applied again after a restart (the board counting a complaint twice). Found by a mutation audit: with the
    two written apart, the SIGKILL test (a kill at a random moment) caught it once in eight runs. Here the
    position's write fails every time."""
    await write_day(store)
    await pg.execute(
        "CREATE FUNCTION levee_read.refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the position cannot be stored'; END $$"
    )
    await pg.execute(
        "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON levee_read.projection_tracking "
        "FOR EACH ROW EXECUTE FUNCTION levee_read.refuse()"
    )
    runner = await make_runner()
    with pytest.raises(asyncpg.PostgresError):
        await runner.catch_up()
    assert (
        await pg.fetchval("SELECT count(*) FROM levee_read.complaints") == 0
    )  # the batch's rows went with it
    await pg.execute("DROP TRIGGER refuse ON levee_read.projection_tracking")
    runner = await make_runner()
    await runner.catch_up()
    rebuilt = await rebuild_schema(store, pg, swap=False)
    assert await snapshot(pg, rebuilt) == await snapshot(pg)
