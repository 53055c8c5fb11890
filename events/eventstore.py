"""eventsourcing persistence module on Levee's JetStream stream.

Select it with `PERSISTENCE_MODULE=events.eventstore`, `NATS_URL` and `NATS_STREAM` (the stream name,
default LEVEE_EVENTS; a fresh name is a fresh, separate store). Optional: `NATS_TIMEOUT` (seconds per
request, default 5) and `NATS_STREAM_REPLICAS` (default 1). Like every eventsourcing setting these may be
prefixed with the application's name (`BANKACCOUNTS_NATS_STREAM`).

One factory per application: it owns one NATS connection on its own loop thread (see SyncBridge), which
every recorder it makes shares, and `close()` (or `Application.close()`) shuts both down.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    OperationalError,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic

from events.store.errors import StoreUnavailable
from events.store.recorders import (
    NatsAggregateRecorder,
    NatsApplicationRecorder,
    NatsProcessRecorder,
    NatsTrackingRecorder,
)
from events.store.stream import DEFAULT_STREAM, StreamSpec
from events.store.sync_bridge import SyncBridge


class NatsFactory(InfrastructureFactory[NatsTrackingRecorder]):
    NATS_URL = "NATS_URL"
    NATS_STREAM = "NATS_STREAM"
    NATS_TIMEOUT = "NATS_TIMEOUT"
    NATS_STREAM_REPLICAS = "NATS_STREAM_REPLICAS"

    aggregate_recorder_class = NatsAggregateRecorder
    application_recorder_class = NatsApplicationRecorder
    tracking_recorder_class = NatsTrackingRecorder
    process_recorder_class = NatsProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.NATS_URL)
        if not url:
            keys = ", ".join(self.env.create_keys(self.NATS_URL))
            raise OSError(f"NATS server URL not found in environment with keys: {keys}")
        spec = StreamSpec(
            name=self.env.get(self.NATS_STREAM) or DEFAULT_STREAM,
            replicas=int(self.env.get(self.NATS_STREAM_REPLICAS) or 1),
        )
        name = f"levee-es-{(self.env.name or 'app').lower()}-{uuid.uuid4().hex[:6]}"
        self.bridge = SyncBridge(url, spec, name=name, timeout=float(self.env.get(self.NATS_TIMEOUT) or 5))
        try:
            self.bridge.start()
        except StoreUnavailable as exc:
            raise OperationalError(str(exc)) from exc

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        return self.aggregate_recorder_class(self.bridge, purpose)

    def application_recorder(self) -> ApplicationRecorder:
        cls = self._resolve(self.APPLICATION_RECORDER_TOPIC, None, self.application_recorder_class)
        return cls(self.bridge)

    def tracking_recorder(
        self, tracking_recorder_class: type[NatsTrackingRecorder] | None = None
    ) -> NatsTrackingRecorder:
        cls = self._resolve(
            self.TRACKING_RECORDER_TOPIC, tracking_recorder_class, self.tracking_recorder_class
        )
        return cls(self.bridge)

    def process_recorder(self) -> ProcessRecorder:
        cls = self._resolve(self.PROCESS_RECORDER_TOPIC, None, self.process_recorder_class)
        return cls(self.bridge)

    def _resolve(self, topic_key: str, given: type[Any] | None, default: type[Any]) -> type[Any]:
        """A recorder class given as an argument, else named by topic in the environment, else ours."""
        topic = self.env.get(topic_key)
        cls = given or (resolve_topic(topic) if topic else default)
        if not (isinstance(cls, type) and issubclass(cls, default)):
            raise TypeError(f"{cls!r} is not a subclass of {default.__qualname__}")
        return cls

    def close(self) -> None:
        with contextlib.suppress(AttributeError):  # __init__ failed before the bridge existed
            self.bridge.close()

    def __del__(self) -> None:
        # A factory dropped without close() must not leave its thread and connection behind; at
        # interpreter exit the modules close() needs may already be gone, and the thread is a daemon.
        with contextlib.suppress(Exception):
            self.close()


Factory = NatsFactory
