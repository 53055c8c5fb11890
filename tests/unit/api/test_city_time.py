"""Times a person reads, in the city's time zone (the reference data's `time_zone`, Asia/Shanghai here)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.api.open311_requests import _date
from services.api.read_models.report import report_csv

EMPTY_REPORT = {
    "totals": {}, "by_category": [], "by_district": [], "by_channel": [], "timing": [], "satisfaction": {},
    "follow_up_by_department": [],
}  # fmt: skip


def test_an_open311_date_without_an_offset_is_the_citys_calendar_day() -> None:
    """start_date=2026-07-01 was midnight UTC, 08:00 in the city: a day's requests began at breakfast."""
    assert _date("2026-07-01", "start_date") == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    assert _date("2026-07-01T00:00:00Z", "start_date") == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def test_the_report_csv_gives_hours_as_the_citys_staff_read_them() -> None:
    hour = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    report = {**EMPTY_REPORT, "per_hour": [{"hour": hour, "received": 3}],
              "handling_time_by_hour": [{"hour": hour, "calls": 2, "median_seconds": 40.0}]}  # fmt: skip
    text = report_csv(report)
    assert "per_hour,hour,2026-07-01T08:00:00+08:00,received,3" in text
    assert "handling_time_by_hour,hour,2026-07-01T08:00:00+08:00,calls,2" in text
