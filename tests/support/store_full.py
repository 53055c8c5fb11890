"""A full event store for a test: JetStream's storage used up by messages nobody handles."""

from __future__ import annotations

import pytest

from events.store import JetStreamEventStore, StoreFull, StoreUnavailable, Write


async def fill_up(store: JetStreamEventStore) -> None:
    """Append padding no worker handles until JetStream refuses even a small message: a full event store."""
    subject = store.spec.tracking_subject("padding")
    for size in (2000, 200, 20):
        for _ in range(2000):
            try:
                await store.append([Write(subject, b"x" * size)])
            except StoreFull:
                break
            except StoreUnavailable:  # the write that crosses the limit may go unanswered: go on filling
                continue
        else:
            pytest.fail(f"2,000 messages of {size} bytes fitted in the small JetStream")
