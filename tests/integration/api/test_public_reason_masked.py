"""A rejection reason shown to the public is masked like any public text.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, read_api


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_a_rejection_reason_is_masked_on_the_status_page_and_in_open311(api: Harness) -> None:
    complaint = Complaint.receive(
        channel="web", description="asdf", received_by="public", lat=22.70, lon=113.80
    )
    complaint.reject("无效：来电人 13812345678 未说明事实", by="triage")
    await AggregateStore(api.store, make_mapper()).save(complaint)
    await api.project()
    status = await api.get_json(f"/api/v1/status/{complaint.tracking_code}")
    assert status["status"] == "not_accepted" and status["reason"], status
    assert "13812345678" not in status["reason"] and "*" in status["reason"], status
    [request] = await api.get_json(f"/open311/v2/requests/{complaint.id}.json")
    assert "13812345678" not in request["status_notes"], request
