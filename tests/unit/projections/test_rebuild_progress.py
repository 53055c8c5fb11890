"""The rebuild's progress line never counts past its total: the stream grows while a rebuild reads it."""

from __future__ import annotations

from projections.rebuild import _Meter


def test_events_written_during_the_rebuild_raise_the_total_instead_of_passing_it() -> None:
    lines: list[str] = []
    meter = _Meter("read_models", 6_044, lines.append)
    meter.batch(6_000, 6_000)
    meter.batch(56, 6_056)  # 12 complaints' events arrived while it read (seen by a review of the runbook)
    meter.finish()
    assert lines[-1].startswith("rebuild read_models: 6,056/6,056 events"), lines
