"""The worker runtime against a real nats-server: exactly-once effects, restarts, rivals, poison, gaps."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter as Counter_
from pathlib import Path
from uuid import UUID

import pytest
import structlog
from eventsourcing.domain import Aggregate

from events.store import JetStreamEventStore, StoreUnavailable, Write
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.connection import connect_nats
from events.store.errors import StreamGap
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer
from services.runtime.tracking import POSITION, load_tracking
from services.runtime.unit_of_work import UnitOfWork
from services.runtime.worker import Worker
from tests.support.store_full import fill_up
from tests.support.toy import HANDLERS, TALLY_ID, Counter, Tally, count_started, mapper
from tests.support.waiting import wait_until, wait_until_async

ROOT = Path(__file__).resolve().parents[3]


async def seed(store: JetStreamEventStore, names: list[str]) -> None:
    repository = AggregateStore(store, mapper())
    for start in range(0, len(names), 100):
        await repository.save(*(Counter(name=n) for n in names[start : start + 100]))


async def tally(store: JetStreamEventStore) -> list[str]:
    try:
        return (await AggregateStore(store, mapper()).get(TALLY_ID, Tally)).seen
    except AggregateNotFound:
        return []


async def drain(worker: Worker) -> None:
    await worker.start()
    async with asyncio.timeout(60):
        while await worker.process_batch():
            pass


async def open_tally(store: JetStreamEventStore) -> None:
    await AggregateStore(store, mapper()).save(Tally())


async def test_worker_applies_every_event_once_and_resumes_where_it_stopped(
    store: JetStreamEventStore,
) -> None:
    await open_tally(store)
    names = [f"c{n}" for n in range(250)]
    await seed(store, names[:150])
    await drain(Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=40))
    await seed(store, names[150:])
    restarted = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=40)
    await drain(restarted)
    assert sorted(await tally(store)) == sorted(names)
    assert await restarted.lag() == 0


@pytest.mark.parametrize(
    ("cache_types", "read_ahead"),
    [((), False), ((Tally,), False), ((Tally,), True)],
    ids=["loaded", "cached", "cached-read-ahead"],
)
async def test_two_instances_of_one_worker_never_apply_an_effect_twice(
    store: JetStreamEventStore, cache_types: tuple[type, ...], read_ahead: bool
) -> None:
    await open_tally(store)
    names = [f"c{n}" for n in range(400)]
    await seed(store, names)
    rivals = [
        Worker(
            "toy",
            store,
            AggregateStore(store, mapper()),
            HANDLERS,
            batch_size=25,
            cache_types=cache_types,
            read_ahead=read_ahead,
        )
        for _ in range(2)
    ]
    await asyncio.gather(*(drain(w) for w in rivals))
    for worker in rivals:  # whichever stopped first may have been overtaken: let both finish
        await drain(worker)
    seen = await tally(store)
    assert len(seen) == len(set(seen)) == 400


async def test_a_cached_aggregate_that_others_write_is_never_acted_on_stale(
    store: JetStreamEventStore,
) -> None:
    """The worker keeps the tally cached across batches while "staff" write it too: between two batches,
    and in the middle of one (after the worker read it, before it commits). Every effect lands once."""
    await open_tally(store)
    staff = AggregateStore(store, mapper())
    raced: list[str] = []

    async def staff_count(source: str) -> None:
        shared = await staff.get(TALLY_ID, Tally)
        shared.count(source)
        await staff.save(shared)

    async def count_and_race(event: Counter.Started, uow: UnitOfWork) -> None:
        await count_started(event, uow)
        if event.name == "race" and not raced:
            raced.append(event.name)
            await staff_count("staff-during")

    worker = Worker("toy", store, AggregateStore(store, mapper()), {Counter.Started: count_and_race},
                    batch_size=20, cache_types=(Tally,))  # fmt: skip
    first, second, third = ([f"{p}{n}" for n in range(30)] for p in "abc")
    await seed(store, first)
    await drain(worker)
    await staff_count("staff-between")
    await seed(store, [*second, "race", *third])
    await drain(worker)

    seen = await tally(store)
    assert sorted(seen) == sorted([*first, "staff-between", *second, "race", "staff-during", *third])
    assert raced == ["race"]
    assert worker.cache is not None
    cached = worker.cache.get(TALLY_ID)
    assert isinstance(cached, Tally) and cached.seen == seen  # the cache ends exactly as stored


@pytest.mark.parametrize("read_ahead", [False, True], ids=["in-order", "read-ahead"])
async def test_reading_ahead_spares_redoing_batches_others_wrote_into(
    store: JetStreamEventStore, read_ahead: bool
) -> None:
    """Staff write the cached tally after a backlog: at the stream's end, past every batch of it. Read in
    order only, the worker's copy is behind when a batch commits, and the batch is done twice. The first
    such conflict turns reading ahead on; the next backlog's staff write is then fed before its batches,
    and nothing is done twice. Either way every effect lands once."""
    await open_tally(store)
    handled: Counter_[str] = Counter_()

    async def count(event: Counter.Started, uow: UnitOfWork) -> None:
        handled[event.name] += 1
        await count_started(event, uow)

    worker = Worker("toy", store, AggregateStore(store, mapper()), {Counter.Started: count}, batch_size=20,
                    cache_types=(Tally,), read_ahead=read_ahead)  # fmt: skip
    staff = AggregateStore(store, mapper())

    async def backlog_then_staff(names: list[str], source: str) -> None:
        await seed(store, names)
        shared = await staff.get(TALLY_ID, Tally)
        shared.count(source)
        await staff.save(shared)
        await drain(worker)

    warm = [f"w{n}" for n in range(20)]
    await seed(store, warm)
    await drain(worker)  # the tally is cached from here on
    first, second = [f"a{n}" for n in range(60)], [f"b{n}" for n in range(60)]
    await backlog_then_staff(first, "staff-1")
    assert sum(handled[n] for n in first) > len(first)  # the first conflict: redone either way
    await backlog_then_staff(second, "staff-2")

    assert sorted(await tally(store)) == sorted([*warm, *first, "staff-1", *second, "staff-2"])
    handled_again = sum(handled[n] for n in second) - len(second)
    assert (handled_again == 0) if read_ahead else (handled_again > 0)


async def test_a_conflict_over_one_aggregate_puts_the_others_back_without_reading_them_again(
    store: JetStreamEventStore,
) -> None:
    """Staff write a counter while the worker's batch changes it and the tally: the batch is redone. The tally
    (which makes twins, as incidents and clusters do) is put back as it was, not read again from the stream:
    reading a surge's incident again after every such conflict made triage slower the bigger it grew."""
    await open_tally(store)
    loads: list[object] = []

    class CountingStore(AggregateStore):
        async def get(self, aggregate_id, cls=None):  # type: ignore[no-untyped-def]
            loads.append(aggregate_id)
            return await super().get(aggregate_id, cls)

    staff = AggregateStore(store, mapper())
    raced: list[UUID] = []

    async def count_and_touch(event: Counter.Started, uow: UnitOfWork) -> None:
        await count_started(event, uow)
        counter = await uow.get(event.originator_id, Counter)
        counter.increment(1)
        if event.name == "race" and not raced:
            raced.append(event.originator_id)
            theirs = await staff.get(event.originator_id, Counter)
            theirs.increment(10)
            await staff.save(theirs)

    worker = Worker("toy", store, CountingStore(store, mapper()), {Counter.Started: count_and_touch},
                    batch_size=20, cache_types=(Tally, Counter))  # fmt: skip
    first, second = [f"a{n}" for n in range(15)], [f"b{n}" for n in range(15)]
    await seed(store, first)
    await drain(worker)
    loads.clear()
    await seed(store, [*second[:5], "race", *second[5:]])
    await drain(worker)

    assert len(raced) == 1
    assert TALLY_ID not in loads  # put back from its twin: the redone batch found it in the cache
    assert sorted(await tally(store)) == sorted([*first, *second, "race"])  # every effect once
    assert (await staff.get(raced[0], Counter)).count == 11  # staff's 10, the worker's 1 once


@pytest.mark.parametrize(
    ("read_only", "reloaded"), [(True, False), (False, True)], ids=["read-only", "written"]
)
async def test_an_aggregate_a_worker_only_reads_is_seen_as_of_its_event_and_never_reloaded(
    store: JetStreamEventStore, read_only: bool, reloaded: bool
) -> None:
    """Notices reads each incident on the incident's own events, while triage goes on adding complaints to it.
    A worker behind the stream's end found its cached copy behind at every batch and read it again in full:
    thousands of events per incident in a surge, batch after batch. An aggregate it only reads is taken as the
    stream fed it (as of the batch), and a handler still finds there the event it handles."""
    await open_tally(store)
    staff = AggregateStore(store, mapper())

    async def others_count(names: range) -> None:  # as triage adds complaints to an incident
        for n in names:
            shared = await staff.get(TALLY_ID, Tally)
            shared.count(f"s{n}")
            await staff.save(shared)

    loads: list[object] = []
    seen: list[tuple[str, bool]] = []

    class CountingStore(AggregateStore):
        async def get(self, aggregate_id, cls=None):  # type: ignore[no-untyped-def]
            loads.append(aggregate_id)
            return await super().get(aggregate_id, cls)

    async def read_the_tally(event: Tally.Counted, uow: UnitOfWork) -> None:
        tally = await uow.get(event.originator_id, Tally)
        seen.append((event.source, event.source in tally.seen))

    worker = Worker("reader", store, CountingStore(store, mapper()), {Tally.Counted: read_the_tally},
                    batch_size=10, cache_types=(Tally,), read_only_types=(Tally,) if read_only else ())  # fmt: skip
    await others_count(range(5))
    await drain(worker)  # the tally is in the worker's cache now
    loads.clear()
    await others_count(range(5, 60))
    await drain(worker)  # behind the stream's end at every batch but the last

    assert seen == [(f"s{n}", True) for n in range(60)]  # every event, each with the tally that holds it
    assert (TALLY_ID in loads) is reloaded


async def test_a_handler_changing_a_read_only_kind_is_stored_right_and_said(
    store: JetStreamEventStore,
) -> None:
    """Named read-only by mistake: the tally's effects still land once each, and the log says what happened."""
    await open_tally(store)
    names = [f"c{n}" for n in range(30)]
    await seed(store, names)
    worker = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=10,
                    cache_types=(Tally,), read_only_types=(Tally,))  # fmt: skip
    with structlog.testing.capture_logs() as captured:
        await drain(worker)
    assert sorted(await tally(store)) == sorted(names)
    assert {"read_only_aggregate_changed"} <= {line["event"] for line in captured}


async def test_a_poison_event_is_set_aside_and_the_worker_goes_on(store: JetStreamEventStore) -> None:
    await open_tally(store)
    await seed(store, ["a", "b", "poison-1", "c"])
    worker = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, max_attempts=2)
    await drain(worker)
    assert sorted(await tally(store)) == ["a", "b", "c"]
    dead = await store.read_subject(store.spec.dead_letter_subject("toy"))
    assert len(dead) == 1
    record = json.loads(dead[0].data)
    assert "poison-1" in record["error"] and record["attempts"] == 2


async def test_a_failure_while_redoing_the_events_before_a_poison_event_skips_nothing(
    store: JetStreamEventStore,
) -> None:
    """A poison event makes the worker commit the events before it and then try it alone. If one of those
    fails on the redo (a transient error), the redo stops there: the worker must not go on to the poison
    event and past the events between, which were then never applied (b0-b2 were lost)."""
    await open_tally(store)
    calls = Counter_()

    async def handler(event: Counter.Started, uow: UnitOfWork) -> None:
        calls[event.name] += 1
        if event.name == "flaky" and calls["flaky"] == 2:
            raise RuntimeError("transient")
        if event.name == "boom":
            raise RuntimeError("poison")
        await count_started(event, uow)

    names = ["a0", "a1", "flaky", "b0", "b1", "b2", "boom", "c0"]
    await seed(store, names)
    worker = Worker("toy", store, AggregateStore(store, mapper()), {Counter.Started: handler},
                    batch_size=20, max_attempts=1, cache_types=(Tally,))  # fmt: skip
    await drain(worker)
    assert sorted(await tally(store)) == sorted(n for n in names if n != "boom")  # each once, boom set aside
    assert calls["boom"] >= 2


async def test_a_planner_that_cannot_read_a_batch_does_not_stop_the_worker(
    store: JetStreamEventStore,
) -> None:
    """The planner only prefetches; an event it chokes on (triage meeting a category its reference data lacks)
    used to crash the worker on every restart. Now the handlers decide, each event with its own tries."""
    await open_tally(store)
    await seed(store, ["a", "poison-1", "b"])

    calls: list[object] = []

    async def choking_planner(ids: object, uow: UnitOfWork) -> None:
        calls.append(ids)
        raise ValueError("unknown_category")

    worker = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, max_attempts=2,
                    planner=choking_planner)  # fmt: skip
    await drain(worker)
    assert calls  # the planner ran, and failed
    assert sorted(await tally(store)) == ["a", "b"]
    assert len(await store.read_subject(store.spec.dead_letter_subject("toy"))) == 1


async def test_a_store_that_refuses_writes_is_asked_ever_later_and_nothing_is_lost_once_it_has_room(
    small_nats_server: NatsServer, stream_spec: StreamSpec
) -> None:
    """As when the broker's disk fills in a long flood: the worker logs one warning per try, further and further
    apart (not one a second for hours), and once nats-server has room again every effect is applied once."""
    nc = await connect_nats(small_nats_server.url, name="levee-test-worker-full")
    try:
        await ensure_stream(nc, stream_spec)
        store = JetStreamEventStore(nc, stream_spec, timeout=2.0)
        await open_tally(store)
        names = [f"c{n}" for n in range(30)]
        await seed(store, names)
        await fill_up(store)
        worker = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=10)
        stop = asyncio.Event()
        with structlog.testing.capture_logs() as captured:
            running = asyncio.create_task(worker.run(stop))
            try:

                def refusals() -> list[dict[str, object]]:
                    return [e for e in captured if e["event"] == "worker_store_unavailable"]

                await wait_until(lambda: len(refusals()) >= 4, "four refused commits", bound=30)
                assert [e["retry_in"] for e in refusals()[:4]] == [0.2, 0.4, 0.8, 1.6]
                assert "no storage left" in str(refusals()[0]["error"])
                assert await tally(store) == []
                # An operator gives JetStream room and restarts nats-server; the worker's connection comes back.
                await asyncio.to_thread(small_nats_server.stop)
                small_nats_server.max_file_store = "64MB"
                await asyncio.to_thread(small_nats_server.start)

                async def all_tallied() -> bool:
                    return len(await tally(store)) >= len(names)

                await wait_until_async(all_tallied, "every name tallied once nats-server has room", bound=60)
            finally:
                stop.set()
                await running
        assert Counter_(await tally(store)) == Counter_(names)  # each once
        refused = len(refusals())
        assert refused < 12, (
            f"{refused} warnings while the store was full: a retry every second, not ever later"
        )
    finally:
        await nc.close()


async def test_worker_refuses_to_start_when_the_stream_lost_what_it_processed(
    store: JetStreamEventStore,
) -> None:
    await store.append([Write(store.spec.tracking_subject("toy"), b"{}", {POSITION: "999999"})])
    with pytest.raises(StreamGap, match="lost"):
        await Worker("toy", store, AggregateStore(store, mapper()), HANDLERS).start()


async def test_sigkilled_worker_restarted_applies_every_effect_exactly_once(
    store: JetStreamEventStore, nats_url: str
) -> None:
    await open_tally(store)
    names = [f"k{n}" for n in range(3000)]
    await seed(store, names)
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.support.run_toy_worker", nats_url, store.spec.name, "100"]
    kills = 0
    async with asyncio.timeout(120):
        while await store.count_after((await load_tracking(store, "toy")).position):
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = (await load_tracking(store, "toy")).position
            # Kill it at a random moment once it has made some progress (or after a bounded wait).
            for _ in range(rng.randint(5, 60)):
                await asyncio.sleep(0.02)
            if (await load_tracking(store, "toy")).position > before or kills > 20:
                process.send_signal(signal.SIGKILL)
                kills += 1
            else:
                process.send_signal(signal.SIGTERM)
            process.wait(10)
    seen = await tally(store)
    assert kills >= 3
    assert len(seen) == len(set(seen)) == 3000


async def test_batches_whose_effects_overflow_an_atomic_batch_are_split_not_lost(
    store: JetStreamEventStore,
) -> None:
    await open_tally(store)
    await seed(store, [f"big{n}" for n in range(8)] + ["huge-1", "small"])
    worker = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=50)
    await drain(worker)
    seen = await tally(store)
    assert len(seen) == len(set(seen)) == 8 * 300 + 1  # every big effect once, plus "small"
    assert "small" in seen
    dead = await store.read_subject(store.spec.dead_letter_subject("toy"))
    assert [json.loads(d.data)["subject"] for d in dead] == [
        m.subject for m in await store.read(after_seq=0, limit=1000) if b"huge-1" in m.data
    ]


async def test_an_event_whose_effect_cannot_be_encoded_is_set_aside_and_the_batch_goes_on(
    store: JetStreamEventStore,
) -> None:
    """Found by a review: a handler that returns normally with an effect the mapper cannot encode (here a set)
    stopped the worker at that batch on every restart, the good events before it held back too."""
    await open_tally(store)

    async def handler(event: Counter.Started, uow: UnitOfWork) -> None:
        if event.name == "unencodable":
            (await uow.get(TALLY_ID, Tally)).count({event.name})  # type: ignore[arg-type]
            return
        await count_started(event, uow)

    names = ["a", "b", "unencodable", "c", "d"]
    await seed(store, names)
    worker = Worker("toy", store, AggregateStore(store, mapper()), {Counter.Started: handler},
                    batch_size=20, cache_types=(Tally,))  # fmt: skip
    await drain(worker)
    assert sorted(await tally(store)) == ["a", "b", "c", "d"]
    [dead] = await store.read_subject(store.spec.dead_letter_subject("toy"))
    record = json.loads(dead.data)
    assert record["attempts"] == 1 and "set" in record["error"]
    assert b"unencodable" in (await store.message_at(record["seq"])).data
    assert await worker.lag() == 0


async def test_two_instances_racing_to_set_aside_one_event_both_go_on(store: JetStreamEventStore) -> None:
    """The second instance to set aside an event with too many effects found the tracking record moved: it
    must go on from there, as after any race, not stop (found by a review)."""
    await open_tally(store)
    first = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS)
    second = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS)
    await drain(first)
    await second.start()  # one batch behind from here
    await seed(store, ["huge-1"])
    await drain(first)
    async with asyncio.timeout(30):
        while await second.process_batch():
            pass
    assert second.tracking.position == first.tracking.position
    assert len(await store.read_subject(store.spec.dead_letter_subject("toy"))) == 1


class FlakyWrites(AggregateStore):
    """Reading the stream to build the writes fails once, as a direct get that times out does."""

    failed = False

    async def writes_for(self, *aggregates: Aggregate) -> list[Write]:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable("direct get failed: TimeoutError")
        return await super().writes_for(*aggregates)


async def test_a_store_failure_while_building_the_writes_is_waited_out_not_set_aside(
    store: JetStreamEventStore,
) -> None:
    """Building a batch's writes may read the stream (an aggregate's last sequence not remembered): its failure is
    the store's, waited out, not the event's. Found reviewing this session's change, which set such events aside."""
    await open_tally(store)
    await seed(store, ["a", "b"])
    worker = Worker("toy", store, FlakyWrites(store, mapper()), HANDLERS, batch_size=20)
    await worker.start()
    with pytest.raises(StoreUnavailable):
        await worker.process_batch()
    await drain(worker)
    assert sorted(await tally(store)) == ["a", "b"]
    assert await store.read_subject(store.spec.dead_letter_subject("toy")) == []


async def test_an_event_that_fails_for_a_moment_is_tried_again_with_the_services_defaults(
    store: JetStreamEventStore,
) -> None:
    """Every service builds its worker with the default number of tries; every other test gives its own. Found by
    a mutation audit: with the default at one try, a moment's trouble dead-lettered events and no test failed."""
    calls: Counter_[str] = Counter_()

    async def flaky_for_a_moment(event: Counter.Started, uow: UnitOfWork) -> None:
        calls[event.name] += 1
        if event.name == "flaky" and calls["flaky"] <= 2:  # the batch, then its first try alone
            raise RuntimeError("a moment's trouble")
        await count_started(event, uow)

    await open_tally(store)
    await seed(store, ["a", "flaky", "b"])
    await drain(Worker("toy", store, AggregateStore(store, mapper()), {Counter.Started: flaky_for_a_moment}))
    assert sorted(await tally(store)) == ["a", "b", "flaky"]
    assert await store.read_subject(store.spec.dead_letter_subject("toy")) == []


class DiesAtAppend:
    """An appender that dies at its `n`th append: the process killed between two writes of its own."""

    def __init__(self, store: JetStreamEventStore, n: int) -> None:
        self.store, self.n, self.calls = store, n, 0

    async def append(self, writes: list[Write]) -> list[int]:
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("killed mid-commit")
        return await self.store.append(writes)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
async def test_a_worker_killed_at_any_of_its_writes_applies_every_event_once_after_a_restart(
    store: JetStreamEventStore, n: int
) -> None:
    """Effects and position are one atomic write, so a death between any two writes loses and repeats nothing.
    Found by a mutation audit: with effects and position written apart, the SIGKILL test (a kill at a random
    moment) passed three runs in three; a death at each write in turn is seen every run."""
    names = [f"e{i}" for i in range(9)]
    await open_tally(store)
    await seed(store, names)
    dying = Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=3,
                   appender=DiesAtAppend(store, n), cache_types=(Tally,))  # fmt: skip
    with pytest.raises(RuntimeError, match="killed mid-commit"):
        await drain(dying)
    await drain(Worker("toy", store, AggregateStore(store, mapper()), HANDLERS, batch_size=3))
    assert Counter_(await tally(store)) == Counter_(names)
