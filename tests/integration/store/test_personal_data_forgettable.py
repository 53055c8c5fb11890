"""Personal data is sealed in events with a per-complaint key kept in PostgreSQL; erasing the key forgets it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.personal import PersonalData, new_key, seal, unseal
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from events.store.keys import PersonalKeyStore

REPORTER = PersonalData(name="陈美玲", phone="13812345678", email="meiling@example.org", address="海滨路 88 号 3 楼")


@pytest.fixture
async def keys(database_url: str) -> AsyncIterator[PersonalKeyStore]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = PersonalKeyStore(pool)
        await store.create_schema()
        yield store
    finally:
        await pool.close()


async def received_complaint(store: JetStreamEventStore, keys: PersonalKeyStore) -> Complaint:
    key = new_key()
    complaint = Complaint.receive(
        channel="hotline",
        description="Water is entering the ground floor and my mother cannot walk",
        received_by="operator-7",
        lat=22.55,
        lon=114.05,
        people_affected=2,
        vulnerable=["elderly"],
        reporter_sealed=seal(REPORTER, key),
    )
    await keys.put(complaint.id, key)  # the key is durable before the event that needs it
    await AggregateStore(store, make_mapper()).save(complaint)
    return complaint


async def test_no_personal_data_in_clear_anywhere_in_the_stream(
    store: JetStreamEventStore, keys: PersonalKeyStore
) -> None:
    await received_complaint(store, keys)
    everything = await store.read(after_seq=0, limit=1000)
    assert everything
    for message in everything:
        visible = message.subject + repr(message.headers) + message.data.decode("utf-8", "replace")
        for secret in ("陈美玲", "13812345678", "meiling@example.org", "海滨路"):
            assert secret not in visible


async def test_reporter_readable_with_key_and_unreadable_after_erasure_on_replay(
    store: JetStreamEventStore, keys: PersonalKeyStore
) -> None:
    complaint = await received_complaint(store, keys)
    repository = AggregateStore(store, make_mapper())
    loaded = await repository.get(complaint.id, Complaint)
    assert unseal(loaded.reporter_sealed or "", await keys.get(complaint.id)) == REPORTER

    assert await keys.erase(complaint.id, "reporter asked to be forgotten")
    loaded.redact("reporter asked to be forgotten")
    await repository.save(loaded)

    replayed = await AggregateStore(store, make_mapper()).get(complaint.id, Complaint)
    assert replayed.redacted is True
    assert replayed.version == 2  # history intact: received, then redacted
    assert replayed.reporter_sealed is None
    # The received event is still in the stream, ciphertext and all; without its key it opens to nothing.
    [received, _] = await store.read_subject(store.spec.event_subject(complaint.id))
    stored = repository.to_domain_event(complaint.id, received)
    assert stored.reporter_sealed == complaint.reporter_sealed
    assert unseal(stored.reporter_sealed, await keys.get(complaint.id)) is None
