"""The dispatch service's tests read through a store as `levee serve dispatch` opens it: with its read window."""

from __future__ import annotations

import pytest

from events.store import JetStreamEventStore


@pytest.fixture
def store(windowed_store: JetStreamEventStore) -> JetStreamEventStore:
    return windowed_store
