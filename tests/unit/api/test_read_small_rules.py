"""Small rules of the read side: each test failed on a mutation a fourth audit made (Open311's coordinates and its
price in status lookups, the board cache's clock, a time offset whose plus became a space)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from events.reference import load_reference
from services.api import board_cache, open311_requests, ratelimit
from services.api.board_cache import BoardCache
from services.api.query_time import parse_query_time

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_open311_coordinates_are_rounded_to_about_110_m() -> None:
    row = {
        "id": uuid.uuid4(),
        "status": "dispatched",
        "category": "flooding",
        "district": "riverside",
        "department": None,
        "lat": 22.712345,
        "lon": 113.798765,
        "received_at": NOW,
        "updated_at": NOW,
        "resolve_by": None,
        "rejection_reason": None,
        "note": None,
    }
    out = open311_requests.service_request(row, load_reference())
    assert (out["lat"], out["long"]) == (22.712, 113.799)


def test_each_tracking_code_costs_a_status_token() -> None:
    spent = []
    limiter = SimpleNamespace(take_status=lambda request: spent.append(1))
    request = SimpleNamespace(app={ratelimit.LIMITER: limiter})
    open311_requests._split_ids(request, "LV-AAAAAA,LV-BBBBBB,LV-CCCCCC")  # type: ignore[arg-type]
    assert len(spent) == 3


async def test_a_quiet_board_is_recomputed_once_it_is_older_than_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No commit since, but the clock moved: overdue counts and countdowns move with it (a stalled projector
    sends no change, and the page's own refresh got the old board for good)."""
    clock = [1000.0]
    monkeypatch.setattr(board_cache.time, "monotonic", lambda: clock[0])
    cache, computed = BoardCache(fresh=5.0), []

    async def compute() -> tuple[int, str, float]:
        computed.append(1)
        return 7, "{}", 0.0

    await cache.get(7, compute)
    clock[0] += 6.0
    await cache.get(7, compute)
    assert len(computed) == 2


def test_a_compact_offset_whose_plus_became_a_space_is_read() -> None:
    offset = parse_query_time("2026-07-01T08:00:00 0800").utcoffset()
    assert offset is not None and offset.total_seconds() == 8 * 3600
