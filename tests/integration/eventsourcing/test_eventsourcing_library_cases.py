"""eventsourcing's own packaged test cases, run against our persistence module on a real nats-server.

Subclassed, never copied: each case gets a fresh stream (a fresh, separate store) so the library's
expectations about notification ids starting at 1 hold, and tests never see each other's data.
"""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import uuid
from pathlib import Path

from eventsourcing.tests import application as lib_app
from eventsourcing.tests import persistence as lib
from eventsourcing.utils import Environment

from events.eventstore import NatsFactory
from events.store.recorders import (
    NatsAggregateRecorder,
    NatsApplicationRecorder,
    NatsProcessRecorder,
    NatsTrackingRecorder,
)
from services.embedded.nats_server import NatsServer

_server: NatsServer | None = None
_store_dir: tempfile.TemporaryDirectory[str] | None = None
_url = ""


def setUpModule() -> None:
    global _server, _store_dir, _url
    if url := os.environ.get("NATS_URL"):
        _url = url
        return
    _store_dir = tempfile.TemporaryDirectory(prefix="levee-es-nats-")
    _server = NatsServer(store_dir=Path(_store_dir.name)).start()
    _url = _server.url


def tearDownModule() -> None:
    if _server is not None:
        _server.stop()
    if _store_dir is not None:
        _store_dir.cleanup()
    left = [t.name for t in threading.enumerate() if t.name.startswith("levee-es-")]
    assert not left, f"bridge threads left running: {left}"


def fresh_env() -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "events.eventstore",
        "NATS_URL": _url,
        "NATS_STREAM": f"ES_{uuid.uuid4().hex[:12].upper()}",
    }


class _FreshStore:
    """One factory (one connection, one loop thread) on a fresh stream per test, closed after it."""

    factory: NatsFactory

    def setUp(self) -> None:
        self.factory = NatsFactory(fresh_env())
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        super().tearDown()  # type: ignore[misc]
        self.factory.close()


class TestNatsAggregateRecorder(_FreshStore, lib.AggregateRecorderTestCase):
    def create_recorder(self) -> NatsAggregateRecorder:
        recorder = self.factory.aggregate_recorder()
        assert isinstance(recorder, NatsAggregateRecorder)
        return recorder


class TestNatsSnapshotRecorder(_FreshStore, lib.AggregateRecorderTestCase):
    """The same contract for the recorder an Application uses for snapshots (its own subjects)."""

    def create_recorder(self) -> NatsAggregateRecorder:
        recorder = self.factory.aggregate_recorder("snapshots")
        assert isinstance(recorder, NatsAggregateRecorder)
        return recorder


class TestNatsApplicationRecorder(_FreshStore, lib.ApplicationRecorderTestCase[NatsApplicationRecorder]):
    def create_recorder(self) -> NatsApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, NatsApplicationRecorder)
        return recorder

    def test_insert_subscribe(self) -> None:
        # As the library's own POPO and PostgreSQL subclasses do: the subscription case is opt-in.
        self.optional_test_insert_subscribe()


class TestNatsNonInterleavingNotificationIDs(_FreshStore, lib.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> NatsApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, NatsApplicationRecorder)
        return recorder


class TestNatsTrackingRecorder(_FreshStore, lib.TrackingRecorderTestCase):
    def create_recorder(self) -> NatsTrackingRecorder:
        return self.factory.tracking_recorder()


class TestNatsProcessRecorder(_FreshStore, lib.ProcessRecorderTestCase):
    def create_recorder(self) -> NatsProcessRecorder:
        recorder = self.factory.process_recorder()
        assert isinstance(recorder, NatsProcessRecorder)
        return recorder


class TestNatsInfrastructureFactory(lib.InfrastructureFactoryTestCase[NatsFactory]):
    class TrackingRecorderSubclass(NatsTrackingRecorder):
        pass

    def setUp(self) -> None:
        self.env = Environment("TestCase", fresh_env())
        super().setUp()

    def expected_factory_class(self) -> type[NatsFactory]:
        return NatsFactory

    def expected_aggregate_recorder_class(self) -> type[NatsAggregateRecorder]:
        return NatsAggregateRecorder

    def expected_application_recorder_class(self) -> type[NatsApplicationRecorder]:
        return NatsApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[NatsTrackingRecorder]:
        return NatsTrackingRecorder

    def tracking_recorder_subclass(self) -> type[NatsTrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[NatsProcessRecorder]:
        return NatsProcessRecorder


class TestExampleApplicationOnNats(lib_app.ExampleApplicationTestCase):
    """The library's BankAccounts application, configured the way any Application is: by environment."""

    expected_factory_topic = "events.eventstore:NatsFactory"

    def setUp(self) -> None:
        env = fresh_env()
        self._saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # The library's test leaves its application to Application.__del__, which closes the factory;
        # collect now so its connection and loop thread are gone before the next test.
        gc.collect()
