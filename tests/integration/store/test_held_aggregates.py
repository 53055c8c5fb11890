"""Long histories held in memory (events/store/held.py): what a reader gets is always what the stream says."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from events.incident import Incident
from events.mapper import make_mapper
from events.notice import Notice
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateNotFound, AggregateStore
from events.store.held import HeldAggregates

pytestmark = pytest.mark.asyncio


class CountingStore(JetStreamEventStore):
    """The real store, counting the messages its subject reads hand back."""

    read_back = 0

    async def read_subject(self, subject, *, after_seq=0, since=None):  # type: ignore[no-untyped-def]
        messages = await super().read_subject(subject, after_seq=after_seq, since=since)
        self.read_back += len(messages)
        return messages


async def incident_of(writer: AggregateStore, complaints: int) -> Incident:
    incident = Incident.declare(title="Substation fire", kind="power_outage", districts=[], declared_by="cmd")
    await writer.save(incident)
    for start in range(0, complaints, 500):
        for _ in range(min(500, complaints - start)):
            incident.link_complaint(uuid.uuid4())
        await writer.save(incident)
    return incident


@pytest.fixture
async def counting(store: JetStreamEventStore) -> CountingStore:
    return CountingStore(store.nc, store.spec)


async def test_a_long_history_is_read_once_then_only_what_was_written_since(
    store: JetStreamEventStore, counting: CountingStore
) -> None:
    writer = AggregateStore(store, make_mapper())  # triage, linking as reports come in
    incident = await incident_of(writer, 1_000)
    reader = AggregateStore(counting, make_mapper(), held=HeldAggregates(kinds=(Incident,), long_history=200))

    first = await reader.get(incident.id, Incident)
    assert len(first.complaint_ids) == 1_000 and counting.read_back == 1_001

    later = [uuid.uuid4() for _ in range(3)]
    for complaint_id in later:
        incident.link_complaint(complaint_id)
    await writer.save(incident)
    again = await reader.get(incident.id, Incident)

    assert counting.read_back == 1_001 + 3  # the three new events, not the history again
    assert again.complaint_ids[-3:] == later and len(again.complaint_ids) == 1_003
    assert again.version == incident.version


async def test_what_a_caller_changes_stays_its_own_until_stored(
    store: JetStreamEventStore,
) -> None:
    incident = await incident_of(AggregateStore(store, make_mapper()), 300)
    reader = AggregateStore(store, make_mapper(), held=HeldAggregates(kinds=(Incident,), long_history=200))
    mine = await reader.get(incident.id, Incident)
    mine.update_status("identified", by="cmd")
    mine.link_complaint(uuid.uuid4())  # changed, never saved (the command was refused, say)
    mine.districts.append("newfield")

    theirs = await reader.get(incident.id, Incident)
    assert (theirs.status, len(theirs.complaint_ids), theirs.districts) == ("investigating", 300, [])
    assert theirs.version == incident.version

    await reader.save(mine)
    stored = await reader.get(incident.id, Incident)
    assert (stored.status, len(stored.complaint_ids)) == ("identified", 301)
    fresh = await AggregateStore(store, make_mapper()).get(incident.id, Incident)
    assert (fresh.status, fresh.complaint_ids, fresh.version) == (
        stored.status, stored.complaint_ids, stored.version,
    )  # fmt: skip


async def test_reads_at_the_same_time_each_get_the_whole_history(store: JetStreamEventStore) -> None:
    writer = AggregateStore(store, make_mapper())
    incident = await incident_of(writer, 400)
    reader = AggregateStore(store, make_mapper(), held=HeldAggregates(kinds=(Incident,), long_history=200))
    await reader.get(incident.id, Incident)

    async def link_more() -> None:
        for _ in range(20):
            incident.link_complaint(uuid.uuid4())
            await writer.save(incident)

    results = await asyncio.gather(link_more(), *(reader.get(incident.id, Incident) for _ in range(30)))
    final = await reader.get(incident.id, Incident)
    assert final.complaint_ids == incident.complaint_ids and final.version == incident.version
    for seen in results[1:]:
        # Each as the stream had it at some moment: a prefix of the final list, with its version.
        assert seen.complaint_ids == incident.complaint_ids[: len(seen.complaint_ids)]
        assert seen.version == 1 + len(seen.complaint_ids)  # declared, then one event per link


async def test_short_histories_and_other_kinds_are_not_held_and_a_wrong_type_is_not_found(
    store: JetStreamEventStore,
) -> None:
    held = HeldAggregates(kinds=(Incident,), long_history=200)
    reader = AggregateStore(store, make_mapper(), held=held)
    small = await incident_of(AggregateStore(store, make_mapper()), 10)
    assert len((await reader.get(small.id, Incident)).complaint_ids) == 10
    assert len(held) == 0

    big = await incident_of(AggregateStore(store, make_mapper()), 250)
    await reader.get(big.id, Incident)
    assert len(held) == 1

    class Other(Incident):
        pass

    with pytest.raises(AggregateNotFound):
        await reader.get(big.id, Other)  # from the held copy too

    notices_only = HeldAggregates(kinds=(Notice,), long_history=200)
    await AggregateStore(store, make_mapper(), held=notices_only).get(big.id)
    assert len(notices_only) == 0  # only the kinds it was made for, whatever a caller asks for by id


async def test_the_least_recently_read_go_beyond_the_budget(store: JetStreamEventStore) -> None:
    """Counted in events and linked complaints (301 + 300 each here): a merge carries hundreds in one event."""
    writer = AggregateStore(store, make_mapper())
    held = HeldAggregates(kinds=(Incident,), long_history=200, max_size=1_500)
    reader = AggregateStore(store, make_mapper(), held=held)
    first, second, third = [await incident_of(writer, 300) for _ in range(3)]
    for incident in (first, second, first, third):
        await reader.get(incident.id, Incident)
    assert held.get(second.id) is None  # read before the first's second read: the oldest
    assert held.get(first.id) is not None and held.get(third.id) is not None
    assert len((await reader.get(second.id, Incident)).complaint_ids) == 300  # read whole again


async def test_a_held_incident_that_grows_pushes_the_least_recently_read_out(
    store: JetStreamEventStore,
) -> None:
    """The budget holds as triage links reports to an incident already held, not only when one is first held."""
    writer = AggregateStore(store, make_mapper())
    held = HeldAggregates(kinds=(Incident,), long_history=200, max_size=1_500)
    reader = AggregateStore(store, make_mapper(), held=held)
    quiet, growing = await incident_of(writer, 300), await incident_of(writer, 300)
    await reader.get(quiet.id, Incident)
    await reader.get(growing.id, Incident)  # 601 + 601: within the budget
    assert held.get(quiet.id) is not None
    for _ in range(300):
        growing.link_complaint(uuid.uuid4())
    await writer.save(growing)
    assert len((await reader.get(growing.id, Incident)).complaint_ids) == 600  # caught up: 1,201 alone
    assert held.get(quiet.id) is None and held.get(growing.id) is not None
