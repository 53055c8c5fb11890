"""The deadline state a read-model row keeps (projections/deadlines.py): what is dumped loads back the same, and
rows dumped before a field existed still load."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from events.deadlines import Deadline, DeadlineState
from projections.deadlines import dump_state, load_state

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def test_a_dumped_state_loads_back_the_same_with_an_accept_by_an_agreed_time_brought_forward() -> None:
    complaint_id = uuid4()
    state = DeadlineState(
        complaint_id, version=5, level="P4", agreed_at=T0 + timedelta(hours=6), accepted_at=None,
        deadlines=(Deadline("accept", T0 + timedelta(hours=6), "dispatched", unbounded=T0 + timedelta(days=1)),),
    )  # fmt: skip
    assert load_state(dump_state(state), complaint_id) == state


def test_a_row_dumped_before_the_brought_forward_field_still_loads() -> None:
    complaint_id = uuid4()
    old = json.loads(dump_state(DeadlineState(complaint_id, version=3, level="P2",
                                              deadlines=(Deadline("accept", T0, "assessed"),))))  # fmt: skip
    old["deadlines"] = [row[:5] for row in old["deadlines"]]  # as rows were written until 2026-12-07
    [deadline] = load_state(json.dumps(old), complaint_id).deadlines
    assert deadline == Deadline("accept", T0, "assessed")
