"""The Atom feed's Cache-Control counts down from when it was read: a mutation giving the full minute at every
answer let a withdrawn notice stay cached 90 s (the code promises 60), and the suite passed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from events.store import JetStreamEventStore
from services.api import feeds
from tests.integration.pages.harness import Harness, read_api


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_feed_max_age_counts_down_from_the_read(api: Harness) -> None:
    await api.get(feeds.FEED)
    api.client.app[feeds._FEEDS].read_at -= 20  # read 20 s ago, still kept
    again = await api.get(feeds.FEED)
    age = int(again.headers["Cache-Control"].rsplit("=", 1)[1])
    assert age <= 40
