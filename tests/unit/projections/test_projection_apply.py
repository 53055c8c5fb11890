"""The pure projection functions: which rows each event touches, with what, and how a batch is regrouped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from events.complaint import Complaint
from events.incident import Incident
from events.notice import Notice
from projections import read_models
from projections.ops import Append, Derive, Op, SqlOp
from projections.plan import plan

NOW = datetime.now(UTC)
FACTORS = [{"name": "vulnerable", "weight": 0.3, "value": 1, "evidence": "elderly"}]


def _complaint() -> Complaint:
    c = Complaint.receive(
        channel="hotline", description="Flat flooded; Mr Zhang", received_by="op", category="flooding",
        lat=22.70, lon=113.80, reporter_sealed="c2VhbGVk", contact_hash="ab" * 32,
    )  # fmt: skip
    c.validate()
    c.assess_priority(70, "P2", FACTORS, NOW + timedelta(hours=1), NOW + timedelta(hours=24))
    c.dispatch("water", by="rules", reason="route")
    c.return_dispatch("water", "not ours")
    c.dispatch("drainage", by="cmd", reason="again")
    c.accept("drainage")
    c.note_progress("drainage", "On site", public=True)
    c.escalate(2, "Major", by="cmd")
    c.resolve("drainage", "Pumped")
    c.attempt_follow_up("No answer on 13800138000")
    c.record_follow_up(True, "not_satisfied", "Still wet")
    c.reopen("Unhappy")
    c.redact("Forget me")
    return c


EVENTS = {type(e).__name__: e for e in _complaint().collect_events()}

# event -> (tables touched, a fragment its complaints statement must contain, args that must be passed)
CASES = [
    (
        "ComplaintReceived",
        {"complaints", "complaint_timeline", "hotspots"},
        "INSERT INTO complaints",
        "flooding",
    ),
    ("ComplaintValidated", {"complaints", "complaint_timeline"}, "status = 'validated'", None),
    ("PriorityAssessed", {"complaints", "complaint_timeline"}, "level = $5", "P2"),
    ("DispatchReturned", {"complaints", "complaint_timeline"}, "return_count = return_count + 1", None),
    ("DispatchAccepted", {"complaints", "complaint_timeline"}, "accepted_at = $3", None),
    ("ComplaintEscalated", {"complaints", "complaint_timeline"}, "escalation_level = $4", 2),
    ("ComplaintResolved", {"complaints", "complaint_timeline"}, "first_contact = $5", "drainage"),
    ("FollowUpRecorded", {"complaints", "complaint_timeline"}, "satisfaction = $4", "not_satisfied"),
    (
        "ComplaintReopened",
        {"complaints", "complaint_timeline"},
        "reopen_count = reopen_count + 1",
        "drainage",
    ),
    ("ComplaintRedacted", {"complaints", "complaint_timeline"}, "description = ''", None),
]


@pytest.mark.parametrize(("name", "tables", "fragment", "arg"), CASES, ids=[c[0] for c in CASES])
def test_each_complaint_event_updates_its_row_and_the_timeline(
    name: str, tables: set[str], fragment: str, arg: object
) -> None:
    event = EVENTS[name]
    ops = read_models.apply(event)
    assert {op.table for op in ops} == tables
    [row] = [op for op in ops if isinstance(op, SqlOp) and op.table == "complaints"]
    assert fragment in row.sql and row.key == ("complaints", event.originator_id)
    assert row.args[:3] == (event.originator_id, event.originator_version, event.timestamp)
    if arg is not None:
        assert arg in row.args


def test_no_op_carries_sealed_data_or_caller_text_into_the_timeline() -> None:
    ops = [op for e in EVENTS.values() for op in read_models.apply(e)]
    text = repr([_written(op) for op in ops])
    assert "c2VhbGVk" not in text and "ab" * 32 not in text
    received = next(op for op in read_models.apply(EVENTS["ComplaintReceived"]) if isinstance(op, Append))
    assert "Zhang" not in received.row[-1]
    redact = [op for op in read_models.apply(EVENTS["ComplaintRedacted"]) if op.table == "complaint_timeline"]
    assert any(isinstance(op, SqlOp) and "- 'note'" in op.sql for op in redact)


def _written(op: Op) -> object:
    if isinstance(op, SqlOp):
        return op.args
    if isinstance(op, Derive):  # what it writes, folded on from an empty row
        return op.change(dict.fromkeys(op.columns), op.arg)
    return op.row


def test_public_progress_is_marked_public_in_the_timeline() -> None:
    [row] = [op for op in read_models.apply(EVENTS["ProgressNoted"]) if isinstance(op, Append)]
    assert row.row[5] is True and json.loads(row.row[6]) == {"text": "On site"}


def test_incident_and_notice_events_touch_their_own_tables() -> None:
    incident = Incident.declare(title="Flood", kind="flood", districts=["riverside"], declared_by="cmd")
    incident.link_complaint(uuid4())
    incident.update_status("monitoring", by="cmd")
    notice = Notice.draft(incident_id=incident.id, title_en="T", title_zh="T", body_en="B", body_zh="B",
                          status="investigating", drafted_by="press")  # fmt: skip
    notice.approve(by="cmd")
    notice.publish()
    for event in [*incident.collect_events(), *notice.collect_events()]:
        [op] = read_models.apply(event)
        assert isinstance(op, SqlOp) and op.key == (op.table, event.originator_id)
        assert op.table == ("incidents" if isinstance(event, Incident.Event) else "notices")


def test_unknown_events_change_nothing() -> None:
    assert read_models.apply(object()) == []


def _op(key: str | None, sql: str) -> SqlOp:
    return SqlOp("t", sql, (key, sql), key=key)


def test_plan_keeps_each_rows_order_and_groups_the_rest() -> None:
    ops = [_op("a", "insert"), _op("b", "insert"), _op("a", "update"), _op("b", "update"), _op("a", "update"),
           _op(None, "count"), Append("log", ("x",), (1,)), _op("a", "insert"), _op(None, "count")]  # fmt: skip
    steps = plan(ops)
    assert [(s.sql or s.table, [r[0] for r in s.rows]) for s in steps] == [
        ("log", [1]), ("insert", ["a", "b"]), ("count", [None, None]), ("update", ["a", "b", "a"]),
        ("insert", ["a"]),
    ]  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_plan_replays_every_keys_ops_in_event_order(seed: int) -> None:
    import random

    rng = random.Random(seed)
    ops = [_op(rng.choice("abcde"), rng.choice(["s1", "s2", "s3"])) for _ in range(200)]
    executed = [row for step in plan(ops) for row in step.rows]
    for key in "abcde":
        assert [r for r in executed if r[0] == key] == [op.args for op in ops if op.key == key]
