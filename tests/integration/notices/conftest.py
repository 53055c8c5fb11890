"""The notices service's tests read through a store as `levee serve notices` opens it: with its read window."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore
from events.store.stream import StreamSpec, ensure_stream
from services.notices.app import READ_WINDOW


@pytest.fixture
async def store(nc: NATS, stream_spec: StreamSpec) -> JetStreamEventStore:
    await ensure_stream(nc, stream_spec)
    return JetStreamEventStore(nc, stream_spec, read_window=READ_WINDOW)
