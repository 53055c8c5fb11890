"""The async event store against a real nats-server: atomicity, concurrency control, reads, durability."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from events.store import ConcurrencyConflict, JetStreamEventStore, StoreUnavailable, Write
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer


def subject(store: JetStreamEventStore) -> str:
    return store.spec.event_subject(uuid.uuid4())


async def test_append_returns_contiguous_positions_and_reads_back_in_order(
    store: JetStreamEventStore,
) -> None:
    s = subject(store)
    seqs = await store.append([Write(s, f"e{i}".encode(), {"Levee-Version": str(i)}) for i in range(1, 4)])
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    read = await store.read_subject(s)
    assert [m.data for m in read] == [b"e1", b"e2", b"e3"]
    assert [m.seq for m in read] == seqs
    assert read[1].headers["Levee-Version"] == "2"
    assert read[0].time is not None


async def test_new_subject_with_expected_zero_refuses_a_second_creation(store: JetStreamEventStore) -> None:
    s = subject(store)
    await store.append([Write(s, b"created", expected_last_seq=0)])
    with pytest.raises(ConcurrencyConflict):
        await store.append([Write(s, b"created again", expected_last_seq=0)])
    assert [m.data for m in await store.read_subject(s)] == [b"created"]


async def test_failed_expectation_stores_nothing_of_the_batch(store: JetStreamEventStore) -> None:
    a, b = subject(store), subject(store)
    [first] = await store.append([Write(a, b"a1", expected_last_seq=0)])
    with pytest.raises(ConcurrencyConflict):
        await store.append(
            [Write(b, b"b1", expected_last_seq=0), Write(a, b"a2", expected_last_seq=first - 1)]
        )
    assert await store.read_subject(b) == []
    assert [m.data for m in await store.read_subject(a)] == [b"a1"]


async def test_concurrent_writers_with_the_same_expectation_exactly_one_wins(
    store: JetStreamEventStore,
) -> None:
    s = subject(store)
    [base] = await store.append([Write(s, b"v1", expected_last_seq=0)])

    async def writer(n: int) -> bool:
        try:
            await store.append([Write(s, f"v2 by {n}".encode(), expected_last_seq=base)])
        except ConcurrencyConflict:
            return False
        return True

    outcomes = await asyncio.gather(*(writer(n) for n in range(40)))
    assert outcomes.count(True) == 1
    assert len(await store.read_subject(s)) == 2


async def test_last_message_and_missing_subject(store: JetStreamEventStore) -> None:
    s = subject(store)
    assert await store.last_message(s) is None
    await store.append([Write(s, b"1"), Write(s, b"2")])
    last = await store.last_message(s)
    assert last is not None and last.data == b"2"


async def test_read_pages_through_more_than_one_batch(store: JetStreamEventStore) -> None:
    s = subject(store)
    for start in range(0, 2500, 1000):
        await store.append([Write(s, str(i).encode()) for i in range(start, min(start + 1000, 2500))])
    everything = await store.read_subject(s)
    assert [int(m.data) for m in everything] == list(range(2500))
    page = await store.read(after_seq=everything[1499].seq, limit=10)
    assert [int(m.data) for m in page] == list(range(1500, 1510))
    assert await store.last_sequence() == everything[-1].seq


async def test_read_skips_other_subjects_of_the_stream(store: JetStreamEventStore) -> None:
    tracking = store.spec.tracking_subject("triage")
    s = subject(store)
    await store.append([Write(s, b"event"), Write(tracking, json.dumps({"position": 1}).encode())])
    assert [m.data for m in await store.read(after_seq=0)] == [b"event"]


async def test_batch_larger_than_the_server_limit_is_refused_before_sending(
    store: JetStreamEventStore,
) -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        await store.append([Write(subject(store), b"x")] * 1001)


async def test_streams_with_different_names_are_separate_stores(nc, store: JetStreamEventStore) -> None:  # type: ignore[no-untyped-def]
    other_spec = StreamSpec(name=f"OTHER_{uuid.uuid4().hex[:8].upper()}")
    await ensure_stream(nc, other_spec)
    other = JetStreamEventStore(nc, other_spec)
    await store.append([Write(subject(store), b"here")])
    assert await other.read(after_seq=0) == []


async def test_acknowledged_writes_survive_sigkill_of_the_server(own_nats_server: NatsServer) -> None:
    spec = StreamSpec(name="LEVEE_EVENTS")
    nc = await connect_nats(own_nats_server.url, name="kill-test")
    try:
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec)
        acknowledged: list[tuple[str, int]] = []
        for n in range(200):
            s = spec.event_subject(uuid.uuid4())
            [seq] = await store.append([Write(s, f"complaint {n}".encode(), expected_last_seq=0)])
            acknowledged.append((s, seq))
        own_nats_server.kill()  # SIGKILL straight after the last acknowledgement
        own_nats_server.start()
        await _wait_answering(store)
        for s, seq in acknowledged:
            last = await store.last_message(s)
            assert last is not None and last.seq == seq
        assert own_nats_server.varz()["jetstream"]["config"]["sync_always"] is True  # type: ignore[index]
    finally:
        await nc.close()


async def test_append_while_broker_is_down_says_unavailable_and_stores_nothing(
    own_nats_server: NatsServer,
) -> None:
    spec = StreamSpec(name="LEVEE_EVENTS")
    nc = await connect_nats(own_nats_server.url, name="down-test")
    try:
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=1.0)
        s = spec.event_subject(uuid.uuid4())
        own_nats_server.kill()
        with pytest.raises(StoreUnavailable):
            await store.append([Write(s, b"lost?", expected_last_seq=0)])
        own_nats_server.start()
        await _wait_answering(store)
        assert await store.last_message(s) is None
    finally:
        await nc.close()


async def _wait_answering(store: JetStreamEventStore, timeout: float = 20.0) -> None:
    """Bounded wait until the store answers a real round trip again (the client may not yet know of the crash)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                await store.last_sequence()
                return
            except StoreUnavailable:
                await asyncio.sleep(0.05)


async def test_count_after_counts_only_matching_messages(store: JetStreamEventStore) -> None:
    s = subject(store)
    seqs = await store.append([Write(s, b"1"), Write(store.spec.tracking_subject("x"), b"t"), Write(s, b"2")])
    assert await store.count_after(0) == 2
    assert await store.count_after(seqs[0]) == 1
    assert await store.count_after(seqs[2]) == 0


async def test_an_older_stream_gains_missing_subjects_and_keeps_its_messages(nc) -> None:  # type: ignore[no-untyped-def]
    spec = StreamSpec(name=f"OLD_{uuid.uuid4().hex[:8].upper()}")
    old_config = {**spec.config(), "subjects": [f"{spec.prefix}.ev.>"]}
    await nc.request(f"$JS.API.STREAM.CREATE.{spec.name}", json.dumps(old_config).encode())
    store = JetStreamEventStore(nc, spec)
    await store.append([Write(spec.event_subject(uuid.uuid4()), b"kept")])
    info = await ensure_stream(nc, spec)
    assert set(info["config"]["subjects"]) == set(spec.subjects)
    assert [m.data for m in await store.read(after_seq=0)] == [b"kept"]


async def test_a_store_with_a_read_window_reads_as_the_server_does_and_asks_it_less(
    nc,
    store: JetStreamEventStore,  # type: ignore[no-untyped-def]
) -> None:
    """Dispatch's watcher and notices' scheduler read what their worker read: from memory, the same answers."""
    spec = store.spec
    writes = [
        Write(spec.tracking_subject("w") if i % 4 == 3 else subject(store), f"m{i}".encode())
        for i in range(1, 2601)
    ]
    for start in range(0, len(writes), 500):
        await store.append(writes[start : start + 500])
    windowed = JetStreamEventStore(nc, spec, read_window=5000)
    asked = 0
    batch_get = windowed._batch_get

    async def counting(request, **kw):  # type: ignore[no-untyped-def]
        nonlocal asked
        asked += 1
        return await batch_get(request, **kw)

    windowed._batch_get = counting  # type: ignore[method-assign]

    async def everything(
        reader: JetStreamEventStore, subject: str | None, limit: int
    ) -> list[tuple[int, bytes]]:
        got: list[tuple[int, bytes]] = []
        after = 0
        while chunk := await reader.read(after_seq=after, limit=limit, subject=subject):
            got.extend((m.seq, m.data) for m in chunk)
            after = chunk[-1].seq
        return got

    # The worker reads all; the watcher then the events; each as the windowless store answers them.
    assert await everything(windowed, ">", 250) == await everything(store, ">", 250)
    first = asked
    assert await everything(windowed, None, 1000) == await everything(store, None, 1000)
    assert len(await everything(store, None, 1000)) == 1950  # the tracking records left out
    assert asked - first == 1  # only the look past the window's end, which found nothing new
    # New messages: read by the worker first, then found by the watcher in memory.
    more = await store.append([Write(subject(store), b"new"), Write(spec.tracking_subject("w"), b"t")])
    assert [m.seq for m in await windowed.read(after_seq=more[0] - 1, subject=">")] == more
    before = asked
    assert [m.data for m in await windowed.read(after_seq=2600)] == [b"new"]
    assert asked == before
    # A reader far behind a small window reads from the server, and the window stays with the reader ahead.
    small = JetStreamEventStore(nc, spec, read_window=100)
    await everything(small, ">", 1000)
    assert small.window is not None and (small.window.low, small.window.high) == (2502, 2602)
    assert [m.seq for m in await small.read(after_seq=0, limit=3, subject=">")] == [1, 2, 3]
    assert (small.window.low, small.window.high) == (2502, 2602)


async def test_a_read_nobody_answers_for_says_unavailable_so_readers_wait_it_out(nc) -> None:  # type: ignore[no-untyped-def]
    """A 503 (no responders: JetStream stopping, a leader being elected, no such stream) is the broker being
    away, which workers and the projector wait out, not a fault that would stop them."""
    nowhere = JetStreamEventStore(nc, StreamSpec(name=f"T_{uuid.uuid4().hex[:12].upper()}"), timeout=1.0)
    with pytest.raises(StoreUnavailable):
        await nowhere.read_direct(0, 10)


async def test_concurrent_direct_gets_share_one_reply_inbox_and_each_gets_its_own_answer(
    nats_url: str, stream_spec: StreamSpec
) -> None:
    """Direct gets take their replies on one wildcard inbox per connection, each read under its own token: a
    subscription per read cost a tenth of a worker's time and the server a subscription made and dropped."""
    nc = await connect_nats(nats_url, name="reply-inbox")
    try:
        await ensure_stream(nc, stream_spec)
        store = JetStreamEventStore(nc, stream_spec)
        subjects = [subject(store) for _ in range(20)]
        for n, s in enumerate(subjects):
            await store.append([Write(s, f"e{n}".encode(), {"Levee-Version": "1"})])
        read = await asyncio.gather(*(store.read_subject(s) for s in subjects))
        assert [[m.data for m in r] for r in read] == [[f"e{n}".encode()] for n in range(20)]
        requests = nc._resp_sub_prefix.decode() if nc._resp_sub_prefix else "nats-py's own"
        ours = [
            sub
            for sub in nc._subs.values()
            if sub.subject.endswith(".*") and not sub.subject.startswith(requests)
        ]
        assert len(ours) == 1 and len(nc._subs) <= 2  # no subscription left behind by a read
    finally:
        await nc.close()
