"""JetStream out of storage: appends are refused as StoreFull, and everything acknowledged before is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore, StoreFull, StoreUnavailable, Write
from events.store.connection import connect_nats
from events.store.stream import StreamSpec, ensure_stream
from events.store.write_health import WriteHealth
from services.embedded.nats_server import NatsServer

PAYLOAD = b"x" * 2000
MOST_APPENDS = 2000  # 4 MB of messages: far past the limit, so the loop always ends in a refusal


@pytest.fixture
async def small_nc(small_nats_server: NatsServer) -> AsyncIterator[NATS]:
    nc = await connect_nats(small_nats_server.url, name="levee-test-full")
    try:
        yield nc
    finally:
        await nc.close()


async def test_a_full_store_refuses_clearly_and_keeps_what_it_acknowledged(
    small_nc: NATS, stream_spec: StreamSpec
) -> None:
    await ensure_stream(small_nc, stream_spec)
    refusals: list[str] = []
    health = WriteHealth(on_refused=refusals.append)
    store = JetStreamEventStore(small_nc, stream_spec, timeout=2.0, health=health)
    acknowledged: dict[int, str] = {}
    unconfirmed: list[str] = []
    refused: StoreFull | None = None
    for n in range(MOST_APPENDS):
        writes = [Write(stream_spec.event_subject(f"full-{n}-{k}"), PAYLOAD) for k in range(2)]
        try:
            positions = await store.append(writes)
        except StoreFull as exc:
            refused = exc
            break
        except StoreUnavailable as exc:
            # The batch that crosses the limit may go unanswered, half readable: never called stored.
            unconfirmed.append(str(exc))
            if len(unconfirmed) > 1:
                pytest.fail(f"more than one write unconfirmed at the limit: {unconfirmed}")
            continue
        acknowledged.update(zip(positions, (w.subject for w in writes), strict=True))
    assert refused is not None, f"{MOST_APPENDS} appends of 4 KB fitted in the small JetStream"
    assert "no storage left" in str(refused)
    assert len(acknowledged) > 100, "refused long before the limit"
    assert len(unconfirmed) <= 1, unconfirmed
    problem = health.problem()
    assert problem is not None and "no_storage" in problem
    assert refusals == ["unconfirmed"] * len(unconfirmed) + ["no_storage"]

    # A single message (a plain publish, not a batch) is refused the same way.
    with pytest.raises(StoreFull):
        await store.append([Write(stream_spec.event_subject("one-more"), PAYLOAD)])

    await assert_stored(store, acknowledged)


async def test_what_a_full_store_acknowledged_survives_a_restart(
    small_nats_server: NatsServer, small_nc: NATS, stream_spec: StreamSpec
) -> None:
    await ensure_stream(small_nc, stream_spec)
    store = JetStreamEventStore(small_nc, stream_spec, timeout=2.0)
    acknowledged: dict[int, str] = {}
    unconfirmed = 0
    for n in range(MOST_APPENDS):
        writes = [Write(stream_spec.event_subject(f"kept-{n}-{k}"), PAYLOAD) for k in range(2)]
        try:
            positions = await store.append(writes)
        except StoreFull:
            break
        except StoreUnavailable as exc:
            unconfirmed += 1
            if unconfirmed > 1:
                pytest.fail(f"more than one write unconfirmed at the limit: {exc}")
            continue
        acknowledged.update(zip(positions, (w.subject for w in writes), strict=True))
    else:
        pytest.fail(f"{MOST_APPENDS} appends of 4 KB fitted in the small JetStream")
    await small_nc.close()
    small_nats_server.kill()
    small_nats_server.start()
    nc = await connect_nats(small_nats_server.url, name="levee-test-full-after")
    try:
        await assert_stored(JetStreamEventStore(nc, stream_spec), acknowledged)
    finally:
        await nc.close()


async def assert_stored(store: JetStreamEventStore, acknowledged: dict[int, str]) -> None:
    for position, subject in acknowledged.items():
        message = await store.message_at(position)
        assert message is not None and message.subject == subject, f"acknowledged {position} is not stored"
