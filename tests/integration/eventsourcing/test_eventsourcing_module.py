"""Levee's persistence module for eventsourcing, beyond the library's own cases: what we promise on top."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)

from events.eventstore import NatsFactory
from events.store.errors import StoreUnavailable
from events.store.recorders import NatsApplicationRecorder, NatsProcessRecorder
from events.store.stream import StreamSpec
from events.store.sync_bridge import CalledFromEventLoopError, SyncBridge
from services.embedded.ports import free_port
from services.runtime.tracking import load_tracking


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def env_for(nats_url: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "events.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM": f"ES_{uuid.uuid4().hex[:12].upper()}",
    }


@pytest.fixture
def factory(nats_url: str) -> Iterator[NatsFactory]:
    with NatsFactory(env_for(nats_url)) as made:
        try:
            yield made
        finally:
            made.close()


def ev(originator_id: uuid.UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=originator_id, originator_version=version, topic="t", state=state)


def test_application_selected_by_environment_stores_one_subject_per_aggregate(nats_url: str) -> None:
    with Application[uuid.UUID](env=env_for(nats_url)) as app:
        counter = Counter()
        counter.increment()
        app.save(counter)
        assert isinstance(app.factory, NatsFactory)
        assert app.repository.get(counter.id).count == 1

        bridge = app.factory.bridge
        subject = bridge.spec.event_subject(counter.id)
        messages = bridge.call(bridge.store.read_subject, subject)
        assert [m.headers["Levee-Version"] for m in messages] == ["1", "2"]
        assert messages[1].headers["Levee-Topic"].endswith("Counter.Incremented")
        # Payload stays in the body; headers carry only the topic and version (plus the server's own).
        assert {k for k in messages[1].headers if k.startswith("Levee-")} == {"Levee-Topic", "Levee-Version"}


def test_saving_two_aggregates_is_all_or_nothing(factory: NatsFactory) -> None:
    recorder = factory.application_recorder()
    a, b = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([ev(a, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([ev(b, 1), ev(a, 1)])  # a's version 1 exists: b must not be stored either
    assert recorder.select_events(b) == []
    assert recorder.max_notification_id() == 1


def test_events_and_tracking_are_stored_together_or_not_at_all(factory: NatsFactory) -> None:
    recorder = factory.process_recorder()
    assert isinstance(recorder, NatsProcessRecorder)
    a, b = uuid.uuid4(), uuid.uuid4()
    recorder.insert_events([ev(a, 1)], tracking=Tracking("upstream", 5))
    with pytest.raises(IntegrityError):  # stale tracking: the new event must not be stored
        recorder.insert_events([ev(b, 1)], tracking=Tracking("upstream", 5))
    with pytest.raises(IntegrityError):  # conflicting event: the tracking must not advance
        recorder.insert_events([ev(a, 1)], tracking=Tracking("upstream", 6))
    assert recorder.select_events(b) == []
    assert recorder.max_tracking_id("upstream") == 5


def test_tracking_and_snapshots_are_never_notifications(nats_url: str) -> None:
    with Application[uuid.UUID](env={**env_for(nats_url), "IS_SNAPSHOTTING_ENABLED": "y"}) as app:
        counter = Counter()
        app.save(counter)
        app.take_snapshot(counter.id)
        process = app.factory.process_recorder()
        process.insert_events([], tracking=Tracking("upstream", 1))
        notifications = app.recorder.select_notifications(None, 10)
        assert [n.originator_version for n in notifications] == [1]
        assert app.recorder.max_notification_id() == notifications[0].id
        assert app.snapshots is not None
        assert [s.originator_version for s in app.snapshots.get(counter.id)] == [1]


def test_concurrent_writers_of_one_aggregate_exactly_one_wins(factory: NatsFactory) -> None:
    recorder = factory.application_recorder()
    a = uuid.uuid4()
    recorder.insert_events([ev(a, 1)])
    start = threading.Barrier(20)

    def write(n: int) -> bool:
        start.wait()
        try:
            recorder.insert_events([ev(a, 2, state=f'{{"by":{n}}}'.encode())])
        except IntegrityError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(write, range(20)))
    assert outcomes.count(True) == 1
    assert [e.originator_version for e in recorder.select_events(a)] == [1, 2]


def test_versions_must_follow_the_stored_version(factory: NatsFactory) -> None:
    recorder = factory.aggregate_recorder()
    a = uuid.uuid4()
    recorder.insert_events([ev(a, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([ev(a, 3)])  # a gap would hide a lost event
    assert [e.originator_version for e in recorder.select_events(a)] == [1]


def test_unsafe_originator_id_is_refused(factory: NatsFactory) -> None:
    recorder = factory.aggregate_recorder()
    with pytest.raises(ProgrammingError):
        recorder.insert_events([StoredEvent("a b>", 1, "t", b"{}")])


def test_subscription_yields_events_saved_later_and_stops_promptly(factory: NatsFactory) -> None:
    recorder = factory.application_recorder()
    assert isinstance(recorder, NatsApplicationRecorder)
    a = uuid.uuid4()
    with recorder.subscribe(gt=None) as subscription:
        timer = threading.Timer(0.2, recorder.insert_events, args=([ev(a, 1)],))
        timer.start()
        first = next(subscription)
        timer.join()
        assert (first.originator_id, first.originator_version) == (a, 1)
        threading.Timer(0.1, subscription.stop).start()
        assert list(subscription) == []  # blocks while idle, returns once stopped


async def test_sync_call_from_an_event_loop_thread_is_refused(factory: NatsFactory) -> None:
    recorder = factory.application_recorder()
    with pytest.raises(CalledFromEventLoopError):
        recorder.max_notification_id()
    assert await asyncio.to_thread(recorder.max_notification_id) is None


def test_close_stops_the_loop_thread_and_later_calls_fail(nats_url: str) -> None:
    made = NatsFactory(env_for(nats_url))
    recorder = made.application_recorder()
    thread_name = f"{made.bridge.name}-loop"
    made.close()
    assert thread_name not in {t.name for t in threading.enumerate()}
    with pytest.raises(OperationalError):
        recorder.max_notification_id()


def test_unreachable_nats_fails_at_start_within_the_bound() -> None:
    nobody = f"nats://127.0.0.1:{free_port()}"
    bridge = SyncBridge(nobody, StreamSpec(name="ES_UNREACHABLE"), name="es-unreachable")
    with pytest.raises(StoreUnavailable, match="could not connect"):
        bridge.start(startup_timeout=1.0)
    assert "es-unreachable-loop" not in {t.name for t in threading.enumerate()}


def test_tracking_record_reads_the_same_for_the_worker_runtime(factory: NatsFactory) -> None:
    recorder = factory.tracking_recorder()
    recorder.insert_tracking(Tracking("notices", 42))
    bridge = factory.bridge
    tracking = bridge.call(load_tracking, bridge.store, "notices")
    assert tracking.position == 42
