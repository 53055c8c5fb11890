"""Group commit and the async aggregate repository against a real nats-server."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Sequence

import pytest
from nats.aio.client import Client as NATS

from events.store import ConcurrencyConflict, JetStreamEventStore, StoreUnavailable, Write
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.connection import connect_nats
from events.store.errors import WriteUnconfirmed
from events.store.group_commit import Backlogged, GroupCommitter
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer
from tests.support.toy import Counter, mapper
from tests.support.waiting import wait_until


async def test_concurrent_appends_share_batches_and_each_gets_its_own_positions(
    store: JetStreamEventStore,
) -> None:
    async with GroupCommitter(store, max_in_flight=2) as committer:
        subjects = [store.spec.event_subject(uuid.uuid4()) for _ in range(500)]
        results = await asyncio.gather(
            *(committer.append([Write(s, b"a", expected_last_seq=0), Write(s, b"b")]) for s in subjects)
        )
    positions = [p for pair in results for p in pair]
    assert len(set(positions)) == 1000
    assert all(b == a + 1 for a, b in results)  # one request's writes stay together
    for s, (a, _) in zip(subjects[:20], results[:20], strict=True):
        assert [m.seq for m in await store.read_subject(s)] == [a, a + 1]
    batches = {m.headers["Nats-Batch-Id"] for m in await store.read(after_seq=0, limit=1000)}
    assert len(batches) < 500  # requests really were grouped


async def test_one_conflicting_request_fails_alone(store: JetStreamEventStore) -> None:
    taken = store.spec.event_subject(uuid.uuid4())
    await store.append([Write(taken, b"first", expected_last_seq=0)])
    async with GroupCommitter(store, max_in_flight=1) as committer:
        fresh = [store.spec.event_subject(uuid.uuid4()) for _ in range(50)]
        outcomes = await asyncio.gather(
            committer.append([Write(taken, b"second", expected_last_seq=0)]),
            *(committer.append([Write(s, b"x", expected_last_seq=0)]) for s in fresh),
            return_exceptions=True,
        )
    assert isinstance(outcomes[0], ConcurrencyConflict)
    assert all(isinstance(o, list) for o in outcomes[1:])
    for s in fresh:
        assert len(await store.read_subject(s)) == 1


async def test_two_requests_on_one_subject_never_share_a_batch(store: JetStreamEventStore) -> None:
    s = store.spec.event_subject(uuid.uuid4())
    [first] = await store.append([Write(s, b"1", expected_last_seq=0)])
    async with GroupCommitter(store, max_in_flight=1) as committer:
        outcomes = await asyncio.gather(
            committer.append([Write(s, b"2a", expected_last_seq=first)]),
            committer.append([Write(s, b"2b", expected_last_seq=first)]),
            return_exceptions=True,
        )
    assert sum(isinstance(o, list) for o in outcomes) == 1
    assert sum(isinstance(o, ConcurrencyConflict) for o in outcomes) == 1


class UnreadableReplies(JetStreamEventStore):
    """The real store, except that a write of b"poison" fails as an unreadable reply does: a ValueError."""

    async def append(self, writes: Sequence[Write]) -> list[int]:
        if any(w.data == b"poison" for w in writes):
            raise ValueError("the reply carried no seq")
        return await super().append(writes)


async def test_an_unexpected_failure_answers_its_requests_and_the_committer_goes_on(
    nc: NATS, store: JetStreamEventStore
) -> None:
    """Found by a review: an error that is not the store's ended its flusher; with both gone every complaint
    waited for ever, and `append` went on queueing them."""
    faulty = UnreadableReplies(nc, store.spec)
    async with GroupCommitter(faulty, max_in_flight=2) as committer:
        for _ in range(3):  # more than there are flushers
            with pytest.raises(WriteUnconfirmed):  # stored or not is unknown: a retry with its key finds out
                poison = [Write(store.spec.event_subject(uuid.uuid4()), b"poison")]
                await asyncio.wait_for(committer.append(poison), 5)  # bounded: it used to hang
        healthy = store.spec.event_subject(uuid.uuid4())
        outcomes = await asyncio.gather(
            committer.append([Write(healthy, b"fine", expected_last_seq=0)]),
            committer.append([Write(store.spec.event_subject(uuid.uuid4()), b"poison")]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], WriteUnconfirmed)
        if isinstance(outcomes[0], WriteUnconfirmed):  # it shared the poisoned batch: its retry is answered
            outcomes[0] = await committer.append([Write(healthy, b"fine", expected_last_seq=0)])
        assert isinstance(outcomes[0], list)
    assert [m.data for m in await store.read_subject(healthy)] == [b"fine"]


class Unreachable(JetStreamEventStore):
    """The real store, except that every append fails as one does while NATS is away."""

    async def append(self, writes: Sequence[Write]) -> list[int]:
        raise StoreUnavailable("not connected to NATS")


async def test_a_batch_the_store_refuses_answers_every_request_in_it(
    nc: NATS, store: JetStreamEventStore
) -> None:
    """Each complaint of a batch NATS refused is answered (a 503, nothing stored), not only the first: the rest
    would wait for ever. Found by a mutation audit: only the cluster test's leader kill saw it, as a 120 s hang."""
    async with GroupCommitter(Unreachable(nc, store.spec), max_in_flight=1) as committer:
        requests = [
            committer.append([Write(store.spec.event_subject(uuid.uuid4()), b"{}", expected_last_seq=0)])
            for _ in range(3)
        ]
        outcomes = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 5)
    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes


async def test_shutdown_flushes_what_was_accepted(store: JetStreamEventStore) -> None:
    committer = GroupCommitter(store, max_in_flight=1)
    await committer.__aenter__()
    pending = [
        asyncio.create_task(committer.append([Write(store.spec.event_subject(uuid.uuid4()), b"x")]))
        for _ in range(300)
    ]
    await asyncio.sleep(0)  # let some tasks enqueue before shutdown begins
    await committer.__aexit__(None, None, None)
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    stored = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, StoreUnavailable)]
    assert stored, "requests queued before shutdown are flushed, not dropped"
    assert len(stored) + len(refused) == 300
    assert len(await store.read(after_seq=0, limit=1000)) == len(stored)


async def test_aggregate_round_trip_and_optimistic_concurrency(store: JetStreamEventStore) -> None:
    repository = AggregateStore(store, mapper())
    counter = Counter(name="sandbags")
    counter.increment(3)
    await repository.save(counter)
    assert counter.pending_events == []

    loaded = await repository.get(counter.id, Counter)
    assert (loaded.name, loaded.count, loaded.version) == ("sandbags", 3, 2)

    # Two staff load the same version; the second save is refused and stores nothing.
    other = AggregateStore(store, mapper())
    a, b = await repository.get(counter.id, Counter), await other.get(counter.id, Counter)
    a.increment(1)
    b.increment(10)
    await repository.save(a)
    with pytest.raises(ConcurrencyConflict):
        await other.save(b)
    assert (await repository.get(counter.id, Counter)).count == 4


async def test_a_conflict_says_how_far_the_subject_reaches_and_a_load_waits_to_see_that_far(
    store: JetStreamEventStore,
) -> None:
    """On a replicated stream a direct get may be answered by a replica a moment behind: a command that reloads
    after a conflict got the same stale copy three times and answered 409 for nothing. The conflict names the
    subject's last sequence, and a load asked to reach it reads again until it does."""
    repository = AggregateStore(store, mapper())
    counter = Counter(name="pumps")
    await repository.save(counter)
    stale, fresh = await repository.get(counter.id, Counter), await repository.get(counter.id, Counter)
    fresh.increment(1)
    [written] = await repository.save(fresh)
    stale.increment(5)
    with pytest.raises(ConcurrencyConflict) as refused:
        await repository.save(stale)
    assert refused.value.last_seq == written
    # Asked to reach one further than is stored yet, while that write is on its way: the load waits for it.
    newer = await repository.get(counter.id, Counter)
    newer.increment(2)
    reread, _ = await asyncio.gather(
        repository.get(counter.id, Counter, at_least=written + 1), repository.save(newer)
    )
    assert reread.count == 3


async def test_stale_aggregate_is_refused_even_when_its_position_was_forgotten(
    store: JetStreamEventStore,
) -> None:
    writer = AggregateStore(store, mapper())
    counter = Counter(name="pumps")
    await writer.save(counter)
    stale = await AggregateStore(store, mapper()).get(counter.id, Counter)
    counter.increment(1)
    await writer.save(counter)
    stale.increment(5)
    with pytest.raises(ConcurrencyConflict):
        await AggregateStore(store, mapper()).save(stale)  # a fresh repository: no remembered position


async def test_aggregate_and_extra_write_are_stored_together(store: JetStreamEventStore) -> None:
    repository = AggregateStore(store, mapper())
    counter = Counter(name="boats")
    tracking = store.spec.tracking_subject("triage")
    await repository.save(counter, extra=[Write(tracking, b'{"position": 7}', expected_last_seq=0)])
    stale_tracking = Write(tracking, b'{"position": 8}', expected_last_seq=0)
    counter.increment(1)
    with pytest.raises(ConcurrencyConflict):
        await repository.save(counter, extra=[stale_tracking])
    assert (
        await repository.get(counter.id, Counter)
    ).count == 0  # the event did not go in without its tracking


async def test_missing_aggregate_is_reported(store: JetStreamEventStore) -> None:
    with pytest.raises(AggregateNotFound):
        await AggregateStore(store, mapper()).get(uuid.uuid4())


async def test_repository_saves_through_group_commit(store: JetStreamEventStore) -> None:
    async with GroupCommitter(store) as committer:
        repository = AggregateStore(store, mapper(), appender=committer)
        counters = [Counter(name=f"c{n}") for n in range(200)]
        await asyncio.gather(*(repository.save(c) for c in counters))
    for c in counters[:10]:
        assert (await repository.get(c.id, Counter)).name == c.name


async def test_a_stalled_broker_refuses_new_writes_at_once_once_enough_are_waiting(
    own_nats_server: NatsServer, stream_spec: StreamSpec
) -> None:
    nc = await connect_nats(own_nats_server.url, name="levee-test-stalled")
    await ensure_stream(nc, stream_spec)
    store = JetStreamEventStore(nc, stream_spec, timeout=10.0)
    pid = own_nats_server.pid
    assert pid is not None
    try:
        async with GroupCommitter(store, max_in_flight=1, max_queued=3) as committer:
            os.kill(pid, signal.SIGSTOP)  # the broker stops answering, as on a stalled disk
            try:
                subjects = [stream_spec.event_subject(uuid.uuid4()) for _ in range(10)]
                tasks = [
                    asyncio.create_task(committer.append([Write(s, b"x", expected_last_seq=0)]))
                    for s in subjects
                ]
                # One batch in flight and three waiting: the other six are refused without waiting for NATS.
                await wait_until(
                    lambda: sum(t.done() for t in tasks) >= 6, "refusals while the broker is stalled"
                )
                refused = [t for t in tasks if t.done()]
                assert all(isinstance(t.exception(), Backlogged) for t in refused)
                assert "writes are already waiting" in str(refused[0].exception())
            finally:
                os.kill(pid, signal.SIGCONT)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        stored = [s for s, o in zip(subjects, outcomes, strict=True) if isinstance(o, list)]
        backlogged = [o for o in outcomes if isinstance(o, Backlogged)]
        assert len(stored) + len(backlogged) == 10  # everything queued is stored once the broker answers
        assert 3 <= len(stored) <= 4  # the three waiting, and the one in flight if the flusher had taken it
        for s, outcome in zip(subjects, outcomes, strict=True):
            assert len(await store.read_subject(s)) == (1 if isinstance(outcome, list) else 0)
    finally:
        await nc.close()
