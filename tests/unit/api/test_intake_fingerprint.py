"""The idempotency fingerprint: equal requests match, any change differs, and rows stored before still match."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import UTC, datetime

import pytest

from services.api.intake_schema import IntakeRequest, Reporter

FULL = IntakeRequest(
    channel="hotline", description="一楼进水，两位老人被困。", category="flooding", lat=22.52, lon=113.93,
    district="westbay", address="12 Shore Road", people_affected=2, vulnerable=("elderly", "infant"),
    reporter=Reporter("Chan Tai-man", "+852 9123 4567", None), media_exposure=True,
    call_started_at=datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC), operator_fields=("media_exposure",),
)  # fmt: skip


@pytest.mark.parametrize(
    "request_",
    [
        FULL,
        IntakeRequest(channel="web", description="停电了"),
        replace(FULL, reporter=Reporter(email="a@b.hk")),
    ],
)
def test_the_fingerprint_is_the_one_rows_were_stored_with(request_: IntakeRequest) -> None:
    """Until 2026-12 it hashed `dataclasses.asdict`: a retry across the upgrade must still match its row."""
    before = hashlib.sha256(json.dumps(asdict(request_), sort_keys=True, default=str).encode()).hexdigest()
    assert request_.fingerprint() == before


@pytest.mark.parametrize(
    "changed",
    [replace(FULL, people_affected=3), replace(FULL, reporter=Reporter("Chan Tai-man", "+852 9123 4568")),
     replace(FULL, vulnerable=("elderly",)), replace(FULL, reporter=None), replace(FULL, lat=22.53)],
)  # fmt: skip
def test_any_change_gives_another_fingerprint(changed: IntakeRequest) -> None:
    assert changed.fingerprint() != FULL.fingerprint()
    assert replace(FULL).fingerprint() == FULL.fingerprint()
