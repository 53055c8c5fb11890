"""A reader's own consumer (events/store/cursor.py) against a real nats-server: the same messages a batch
direct get gives, in order, whatever the reader does and whatever becomes of the consumer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore, Write
from events.store.connection import connect_nats
from events.store.cursor import StreamCursor
from events.store.jetstream import QUIET_SECONDS
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer


async def fill(store: JetStreamEventStore, count: int) -> list[int]:
    spec, positions = store.spec, []
    writes = [
        Write(
            spec.tracking_subject("w") if i % 5 == 4 else spec.event_subject(uuid.uuid4()),
            f"m{i}".encode(),
            {"Levee-Version": "1"},
        )
        for i in range(count)
    ]
    for start in range(0, count, 500):
        positions += await store.append(writes[start : start + 500])
    return positions


@contextlib.asynccontextmanager
async def cursor_on(store: JetStreamEventStore, count: int) -> AsyncIterator[StreamCursor]:
    """`count` messages stored, and a cursor to read them, closed after (also when an assertion fails)."""
    await fill(store, count)
    cursor = store.open_cursor("test")
    assert cursor is not None
    try:
        yield cursor
    finally:
        await cursor.close()


async def through(store: JetStreamEventStore, cursor: StreamCursor, after: int, limit: int) -> list[int]:
    return [m.seq for m in await store.read(after_seq=after, limit=limit, subject=">", cursor=cursor)]


async def direct(store: JetStreamEventStore, after: int, limit: int) -> list[int]:
    return [m.seq for m in await store.read_direct(after, limit)]


async def test_it_reads_what_a_direct_get_reads_going_on_back_and_forward(store: JetStreamEventStore) -> None:
    async with cursor_on(store, 1200) as cursor:
        for after, limit in [
            (0, 250),
            (250, 250),
            (500, 1000),
            (1500, 10),
            (100, 50),
            (150, 5),
            (1100, 1000),
            (1199, 9),
        ]:
            assert await through(store, cursor, after, limit) == await direct(store, after, limit), (
                after,
                limit,
            )
        assert await through(store, cursor, 1200, 100) == []  # the end, for now
        [new] = await store.append([Write(store.spec.event_subject(uuid.uuid4()), b"new")])
        async with asyncio.timeout(
            5
        ):  # the server may answer "nothing yet" a moment after confirming a write
            while not (got := await through(store, cursor, 1200, 100)):
                await asyncio.sleep(0.01)
        assert got == [new]  # and on from there when more comes
        message = (await store.read(after_seq=new - 1, limit=1, subject=">", cursor=cursor))[0]
        assert message.data == b"new" and message.subject.startswith(
            store.spec.events_filter.removesuffix(">")
        )
        assert message.time is not None and abs(message.time - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_consumer_deleted_under_it_is_made_again_and_nothing_is_skipped(
    nc: NATS, store: JetStreamEventStore
) -> None:
    async with cursor_on(store, 300) as cursor:
        assert await through(store, cursor, 0, 100) == list(range(1, 101))
        gone = cursor.name
        reply = await nc.request(f"$JS.API.CONSUMER.DELETE.{store.spec.name}.{gone}", b"", timeout=2)
        assert json.loads(reply.data).get("success") is True
        assert await through(store, cursor, 100, 100) == list(range(101, 201))
        assert cursor.name not in (None, gone)


async def test_a_read_cancelled_half_way_does_not_make_the_next_one_skip(store: JetStreamEventStore) -> None:
    """The consumer acknowledges nothing: what it sent to a read that was given up is not lost for the next."""
    async with cursor_on(store, 3000) as cursor:
        for delay in [0, 0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005] * 3:
            # The consumer is at 1001 now.
            assert await through(store, cursor, 0, 1000) == list(range(1, 1001))
            task = asyncio.ensure_future(through(store, cursor, 1000, 1000))
            await asyncio.sleep(delay)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert await through(store, cursor, 1000, 1000) == list(range(1001, 2001)), delay


async def test_it_and_direct_gets_go_on_after_the_server_restarts(own_nats_server: NatsServer) -> None:
    spec = StreamSpec(name=f"T_{uuid.uuid4().hex[:12].upper()}")
    nc = await connect_nats(own_nats_server.url, name="cursor-restart")
    try:
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=2.0)
        async with cursor_on(store, 200) as cursor:
            assert await through(store, cursor, 0, 100) == list(range(1, 101))
            assert await direct(store, 0, 5) == [1, 2, 3, 4, 5]  # opens the connection's reply inbox
            own_nats_server.stop()
            own_nats_server.start()  # the consumer lived in the server's memory: gone
            async with asyncio.timeout(30):
                while True:
                    try:
                        got = await through(store, cursor, 100, 100)
                        break
                    except Exception:  # reconnecting; the worker waits and tries again the same way
                        await asyncio.sleep(0.2)
            assert got == list(range(101, 201))
            assert await direct(store, 200, 5) == []  # the reply inbox was subscribed again on reconnecting
            assert await direct(store, 195, 5) == [196, 197, 198, 199, 200]
    finally:
        await nc.close()


async def test_a_plain_nats_client_reads_without_a_cursor(nats_url: str, stream_spec: StreamSpec) -> None:
    import nats

    plain = await nats.connect(nats_url)
    try:
        await ensure_stream(plain, stream_spec)
        assert JetStreamEventStore(plain, stream_spec).open_cursor("test") is None
    finally:
        await plain.close()


async def test_reading_part_of_the_last_read_again_is_answered_without_a_new_consumer(
    store: JetStreamEventStore,
) -> None:
    """A worker commits up to its batch's last event and reads the tracking records after it again."""
    async with cursor_on(store, 600) as cursor:
        assert await through(store, cursor, 0, 250) == list(range(1, 251))
        consumer = cursor.name
        assert await through(store, cursor, 245, 250) == list(range(246, 251))
        assert await through(store, cursor, 247, 2) == [248, 249]
        assert await through(store, cursor, 250, 250) == list(range(251, 501))
        assert cursor.name == consumer


async def test_messages_another_client_pulls_from_its_consumer_are_read_again_not_skipped(
    nc: NATS, store: JetStreamEventStore
) -> None:
    """A leaked credential of another service could pull from a reader's consumer: the consumer's own count of
    deliveries shows the gap, and the reader reads on from a consumer of its own."""
    async with cursor_on(store, 400) as cursor:
        assert await through(store, cursor, 0, 100) == list(range(1, 101))
        inbox = nc.new_inbox()
        thief = await nc.subscribe(inbox)
        await nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{store.spec.name}.{cursor.name}",
            json.dumps({"batch": 1, "no_wait": True}).encode(),
            reply=inbox,
        )
        stolen = await thief.next_msg(timeout=2)
        assert stolen.reply.startswith("$JS.ACK.")  # message 101 went to someone else
        await thief.unsubscribe()
        assert await through(store, cursor, 100, 100) == list(range(101, 201))


async def test_a_message_read_through_the_cursor_is_the_one_a_direct_get_reads(
    store: JetStreamEventStore,
) -> None:
    async with cursor_on(store, 50) as cursor:
        through_cursor = await store.read(after_seq=0, limit=50, subject=">", cursor=cursor)
        directly = await store.read_direct(0, 50)
        assert [(m.seq, m.subject, m.data, m.time) for m in through_cursor] == [
            (m.seq, m.subject, m.data, m.time) for m in directly
        ]
        assert all(m.headers.get("Levee-Version") == "1" for m in through_cursor)


async def waiting_pulls(store: JetStreamEventStore, cursor: StreamCursor) -> int:
    reply = await store.nc.request(f"$JS.API.CONSUMER.INFO.{store.spec.name}.{cursor.name}", b"", timeout=5)
    return int(json.loads(reply.data).get("num_waiting", 0))


async def until_waiting_in_the_server(store: JetStreamEventStore, cursor: StreamCursor) -> None:
    async with asyncio.timeout(5):
        while cursor.name is None or await waiting_pulls(store, cursor) != 1:
            await asyncio.sleep(0.01)


async def read_until(store: JetStreamEventStore, cursor: StreamCursor, after: int, count: int) -> list[int]:
    """What comes after `after` until `count` are read, as a worker goes on: wait, then read."""
    got: list[int] = []
    async with asyncio.timeout(10):
        while len(got) < count:
            await store.wait_for_more(after + len(got), cursor, asyncio.Event(), poll=0.0)
            got += await through(store, cursor, after + len(got), 100)
    return got


@contextlib.asynccontextmanager
async def idle_reader(
    store: JetStreamEventStore, poll: float
) -> AsyncIterator[tuple[StreamCursor, asyncio.Future[None], asyncio.Event]]:
    """A cursor that has read the 10 messages stored and now waits in the server for more (the wait, and
    the event that stops it); `poll`: how long it waits after waking."""
    stop = asyncio.Event()
    async with cursor_on(store, 10) as cursor:
        assert await through(store, cursor, 0, 100) == list(range(1, 11))
        waiting = asyncio.ensure_future(store.wait_for_more(10, cursor, stop, poll=poll))
        try:
            await until_waiting_in_the_server(store, cursor)
            yield cursor, waiting, stop
        finally:
            stop.set()
            await asyncio.gather(waiting, return_exceptions=True)


async def test_an_idle_reader_waits_in_the_server_and_the_next_messages_wake_it(
    store: JetStreamEventStore,
) -> None:
    # No time after waking (poll=0.0): were it polling, it would return before a pull waits in the server.
    async with idle_reader(store, poll=0.0) as (cursor, waiting, _):
        consumer = cursor.name
        assert not waiting.done()
        stored = time.monotonic()
        await fill(store, 3)  # one atomic batch of three
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - stored < 1.0, "woken by the message, not by the pull expiring (2 s)"
        got = await through(store, cursor, 10, 100)
        got += await read_until(store, cursor, 10 + len(got), 3 - len(got))
        assert got == [11, 12, 13]
        assert cursor.name == consumer, "the wait went on from the last read: no new consumer"
        assert await through(store, cursor, 13, 100) == []


async def test_after_a_quiet_spell_it_reads_at_once_and_while_messages_flow_it_lets_a_batch_gather(
    store: JetStreamEventStore,
) -> None:
    async with idle_reader(store, poll=0.5) as (cursor, waiting, stop):
        stored = time.monotonic()
        await fill(store, 1)  # comes at once: the reader waits its 0.5 s for more to come with it
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - stored >= 0.45
        assert await through(store, cursor, 10, 100) == [11]

        waiting = asyncio.ensure_future(store.wait_for_more(11, cursor, stop, poll=0.5))
        await until_waiting_in_the_server(store, cursor)
        await asyncio.sleep(QUIET_SECONDS + 0.1)  # a quiet spell (a deliberate delay, not a wait for a state)
        stored = time.monotonic()
        await fill(store, 1)
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - stored < 0.4, "after a quiet spell, read at once"
        assert await through(store, cursor, 11, 100) == [12]


async def test_stopping_ends_the_wait_and_the_next_read_skips_nothing(store: JetStreamEventStore) -> None:
    async with idle_reader(store, poll=60.0) as (cursor, waiting, stop):
        stopped = time.monotonic()
        stop.set()
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - stopped < 1.0, "stopped, not the pull expiring (2 s) nor the poll (60 s)"
        await fill(store, 5)
        assert await read_until(store, cursor, 10, 5) == [11, 12, 13, 14, 15]


async def test_a_reader_waiting_when_the_server_dies_reads_what_comes_after_it_restarts(
    own_nats_server: NatsServer,
) -> None:
    spec = StreamSpec(name=f"T_{uuid.uuid4().hex[:12].upper()}")
    nc = await connect_nats(own_nats_server.url, name="cursor-wait-restart")
    try:
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=2.0)
        async with idle_reader(store, poll=0.0) as (cursor, waiting, _):
            own_nats_server.kill()  # the waiting pull dies with the server, unanswered
            own_nats_server.start()
            # Given up within CURSOR_WAIT_SECONDS and its slack, not hanging on a pull nobody will answer.
            await asyncio.wait_for(waiting, 10)
            async with asyncio.timeout(30):
                while True:
                    try:
                        await fill(store, 3)
                        break
                    except Exception:  # reconnecting
                        await asyncio.sleep(0.2)
            assert await read_until(store, cursor, 10, 3) == [11, 12, 13]
    finally:
        await nc.close()
