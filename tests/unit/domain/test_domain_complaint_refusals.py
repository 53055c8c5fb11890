"""Every command that makes no sense in a state is refused with a code, and records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint
from events.errors import DomainError

NOW = datetime.now(UTC)
LATER = NOW + timedelta(hours=2)
FACTORS = [{"name": "vulnerable", "weight": 0.3, "value": 1, "evidence": "elderly"}]
OTHER_INCIDENT = UUID("00000000-0000-4000-8000-000000000002")
SAME_INCIDENT = UUID("00000000-0000-4000-8000-000000000001")


def _assess(**overrides: Any) -> Callable[[Complaint], None]:
    args: dict[str, Any] = {
        "score": 50, "level": "P2", "factors": FACTORS, "accept_by": NOW, "resolve_by": LATER, **overrides
    }  # fmt: skip
    return lambda c: c.assess_priority(**args)


REFUSALS: list[tuple[str, str, Callable[[Complaint], None], str]] = [
    # (test id, state, command, expected code)
    ("validate_twice", "validated", lambda c: c.validate(), "not_awaiting_validation"),
    ("validate_closed", "closed", lambda c: c.validate(), "complaint_closed"),
    ("reject_without_reason", "received", lambda c: c.reject("  "), "reason_required"),
    ("reject_after_assessment", "prioritised", lambda c: c.reject("late"), "not_awaiting_validation"),
    ("duplicate_of_itself", "received", lambda c: c.mark_duplicate(c.id), "duplicate_of_itself"),
    (
        "duplicate_after_dispatch",
        "dispatched",
        lambda c: c.mark_duplicate(OTHER_INCIDENT),
        "already_dispatched",
    ),
    (
        "link_same_incident_twice",
        "linked",
        lambda c: c.link_to_incident(SAME_INCIDENT),
        "already_linked_to_incident",
    ),
    (
        "link_second_incident",
        "linked",
        lambda c: c.link_to_incident(OTHER_INCIDENT),
        "linked_to_other_incident",
    ),
    ("assess_before_validation", "received", _assess(), "not_validated"),
    ("assess_score_over_100", "validated", _assess(score=101), "score_out_of_range"),
    ("assess_score_bool", "validated", _assess(score=True), "score_out_of_range"),
    ("assess_unknown_level", "validated", _assess(level="P5"), "unknown_level"),
    ("assess_factor_without_evidence", "validated", _assess(factors=[{"name": "x"}]), "invalid_factors"),
    ("assess_naive_deadline", "validated", _assess(accept_by=datetime(2025, 1, 1)), "naive_datetime"),
    (
        "assess_deadlines_reversed",
        "validated",
        _assess(accept_by=LATER, resolve_by=NOW),
        "deadlines_out_of_order",
    ),
    ("assess_resolved", "resolved", _assess(), "already_resolved"),
    ("dispatch_before_priority", "validated", lambda c: c.dispatch("water", "cmd", "why"), "not_prioritised"),
    (
        "dispatch_to_department_that_returned_it",
        "returned",
        lambda c: c.dispatch("water", "cmd", "again"),
        "department_returned_it",
    ),
    (
        "dispatch_to_same_department",
        "accepted",
        lambda c: c.dispatch("water", "cmd", "again"),
        "already_dispatched_to_department",
    ),
    (
        "dispatch_unknown_department",
        "prioritised",
        lambda c: c.dispatch("navy", "cmd", "why"),
        "unknown_department",
    ),
    ("dispatch_without_reason", "prioritised", lambda c: c.dispatch("water", "cmd", ""), "reason_required"),
    ("dispatch_closed", "closed", lambda c: c.dispatch("drainage", "cmd", "why"), "complaint_closed"),
    ("dispatch_resolved", "resolved", lambda c: c.dispatch("drainage", "cmd", "why"), "already_resolved"),
    (
        "accept_by_another_department",
        "dispatched",
        lambda c: c.accept("power"),
        "not_dispatched_to_department",
    ),
    ("accept_when_not_dispatched", "prioritised", lambda c: c.accept("water"), "not_dispatched"),
    ("accept_twice", "accepted", lambda c: c.accept("water"), "not_dispatched"),
    (
        "return_by_another_department",
        "accepted",
        lambda c: c.return_dispatch("power", "no"),
        "not_dispatched_to_department",
    ),
    ("return_without_reason", "dispatched", lambda c: c.return_dispatch("water", ""), "reason_required"),
    ("return_after_resolve", "resolved", lambda c: c.return_dispatch("water", "no"), "not_with_department"),
    (
        "extension_before_accept",
        "dispatched",
        lambda c: c.request_extension("water", 60, "why"),
        "not_accepted",
    ),
    (
        "extension_by_another_department",
        "accepted",
        lambda c: c.request_extension("power", 60, "why"),
        "not_dispatched_to_department",
    ),
    (
        "extension_while_one_pending",
        "extension_pending",
        lambda c: c.request_extension("water", 60, "more"),
        "extension_pending",
    ),
    (
        "extension_of_zero_minutes",
        "accepted",
        lambda c: c.request_extension("water", 0, "why"),
        "minutes_not_positive",
    ),
    ("grant_without_request", "accepted", lambda c: c.grant_extension("cmd", 60), "no_extension_pending"),
    (
        "grant_negative_minutes",
        "extension_pending",
        lambda c: c.grant_extension("cmd", -5),
        "minutes_not_positive",
    ),
    ("deny_without_request", "accepted", lambda c: c.deny_extension("cmd", "no"), "no_extension_pending"),
    ("deny_without_reason", "extension_pending", lambda c: c.deny_extension("cmd", ""), "reason_required"),
    ("progress_before_accept", "dispatched", lambda c: c.note_progress("water", "on it"), "not_accepted"),
    ("progress_without_text", "accepted", lambda c: c.note_progress("water", " "), "text_required"),
    (
        "progress_by_another_department",
        "accepted",
        lambda c: c.note_progress("gas", "hi"),
        "not_dispatched_to_department",
    ),
    ("escalate_to_level_3", "received", lambda c: c.escalate(3, "why", "cmd"), "invalid_escalation_level"),
    ("escalate_to_same_level", "escalated", lambda c: c.escalate(2, "again", "cmd"), "already_escalated"),
    ("escalate_down", "escalated", lambda c: c.escalate(1, "lower", "cmd"), "already_escalated"),
    ("escalate_closed", "closed", lambda c: c.escalate(1, "why", "cmd"), "complaint_closed"),
    ("resolve_before_accept", "dispatched", lambda c: c.resolve("water", "done"), "not_accepted"),
    (
        "resolve_by_another_department",
        "accepted",
        lambda c: c.resolve("power", "done"),
        "not_dispatched_to_department",
    ),
    ("resolve_without_summary", "accepted", lambda c: c.resolve("water", ""), "summary_required"),
    ("resolve_twice", "resolved", lambda c: c.resolve("water", "again"), "already_resolved"),
    (
        "resolve_unknown_outcome",
        "accepted",
        lambda c: c.resolve("water", "done", outcome="magic"),
        "unknown_outcome",
    ),
    (
        "first_contact_without_answer_ref",
        "received",
        lambda c: c.resolve("hotline_office", "told them", outcome="first_contact"),
        "answer_ref_required",
    ),
    (
        "first_contact_after_dispatch",
        "dispatched",
        lambda c: c.resolve("hotline_office", "told", outcome="first_contact", answer_ref="N-1"),
        "first_contact_after_dispatch",
    ),
    (
        "follow_up_before_resolve",
        "accepted",
        lambda c: c.record_follow_up(True, "satisfied", ""),
        "not_resolved",
    ),
    (
        "follow_up_unknown_satisfaction",
        "resolved",
        lambda c: c.record_follow_up(True, "ecstatic", ""),
        "unknown_satisfaction",
    ),
    (
        "follow_up_satisfaction_without_contact",
        "resolved",
        lambda c: c.record_follow_up(False, "satisfied", ""),
        "satisfaction_without_contact",
    ),
    ("attempt_before_resolve", "accepted", lambda c: c.attempt_follow_up("no answer"), "not_resolved"),
    (
        "attempt_beyond_bound",
        "attempts_exhausted",
        lambda c: c.attempt_follow_up("again"),
        "follow_up_attempts_exhausted",
    ),
    ("reopen_before_resolve", "accepted", lambda c: c.reopen("why"), "not_resolved"),
    ("reopen_without_reason", "resolved", lambda c: c.reopen(""), "reason_required"),
    ("reopen_closed", "closed", lambda c: c.reopen("why"), "complaint_closed"),
    ("close_before_resolve", "accepted", lambda c: c.close(), "not_resolved"),
    ("close_twice", "closed", lambda c: c.close(), "complaint_closed"),
    ("repeat_call_closed", "closed", lambda c: c.repeat_call("again", "hotline"), "complaint_closed"),
    (
        "repeat_call_unknown_channel",
        "accepted",
        lambda c: c.repeat_call("again", "pigeon"),
        "unknown_channel",
    ),
    (
        "agree_time_in_past",
        "accepted",
        lambda c: c.agree_resolution_time(NOW - timedelta(minutes=1), NOW, False),
        "agreed_time_in_past",
    ),
    (
        "agree_time_beyond_resolve_by",
        "accepted",
        lambda c: c.agree_resolution_time(NOW + timedelta(days=3), NOW, False),
        "beyond_resolve_by_needs_approval",
    ),
    (
        "agree_time_a_years_typo",
        "accepted",
        lambda c: c.agree_resolution_time(NOW + timedelta(days=91), NOW, True),
        "agreed_time_too_far",
    ),
    (
        "agree_time_naive",
        "accepted",
        lambda c: c.agree_resolution_time(datetime(2030, 1, 1), NOW, False),
        "naive_datetime",
    ),
    (
        "agree_time_resolved",
        "resolved",
        lambda c: c.agree_resolution_time(LATER, NOW, True),
        "already_resolved",
    ),
    ("redact_twice", "redacted", lambda c: c.redact("again"), "already_redacted"),
    ("redact_without_reason", "received", lambda c: c.redact(""), "reason_required"),
    ("anything_on_rejected", "rejected", lambda c: c.escalate(1, "why", "cmd"), "complaint_rejected"),
    ("reinstate_open", "validated", lambda c: c.reinstate("valid", by="cmd"), "not_rejected"),
    ("reinstate_duplicate", "duplicate", lambda c: c.reinstate("valid", by="cmd"), "not_rejected"),
    ("reinstate_closed", "closed", lambda c: c.reinstate("valid", by="cmd"), "not_rejected"),
    ("reinstate_twice", "reinstated", lambda c: c.reinstate("again", by="cmd"), "not_rejected"),
    ("reinstate_without_reason", "rejected", lambda c: c.reinstate(" ", by="cmd"), "reason_required"),
    (
        "reinstate_unknown_category",
        "rejected",
        lambda c: c.reinstate("valid", by="cmd", category="aliens"),
        "unknown_category",
    ),
    (
        "anything_on_duplicate",
        "duplicate",
        lambda c: c.repeat_call("again", "hotline"),
        "complaint_duplicate",
    ),
]


@pytest.mark.parametrize(
    ("state", "command", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refused_command_raises_domain_error_and_records_nothing(
    build: Callable[[str], Complaint], state: str, command: Callable[[Complaint], None], code: str
) -> None:
    complaint = build(state)
    version = complaint.version
    with pytest.raises(DomainError) as refused:
        command(complaint)
    assert refused.value.code == code
    assert refused.value.message
    assert complaint.collect_events() == []
    assert complaint.version == version


def _receive(**overrides: Any) -> Complaint:
    args: dict[str, Any] = {
        "channel": "web",
        "description": "Tree on the road",
        "received_by": "public",
        **overrides,
    }
    return Complaint.receive(**args)


RECEIVE_REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown_channel", {"channel": "fax"}, "unknown_channel", "channel"),
    ("blank_description", {"description": " "}, "description_required", "description"),
    ("blank_received_by", {"received_by": ""}, "received_by_required", "received_by"),
    ("unknown_category", {"category": "alien_landing"}, "unknown_category", "category"),
    ("unknown_district", {"district": "atlantis"}, "unknown_district", "district"),
    ("latitude_without_longitude", {"lat": 22.5}, "invalid_location", "lat"),
    ("latitude_out_of_range", {"lat": 95.0, "lon": 114.0}, "invalid_location", "lat"),
    ("negative_people_affected", {"people_affected": -1}, "people_affected_negative", "people_affected"),
    ("unknown_vulnerable_kind", {"vulnerable": ["tall"]}, "unknown_vulnerable_kind", "vulnerable"),
    ("malformed_tracking_code", {"tracking_code": "LV-0000O1"}, "invalid_tracking_code", "tracking_code"),
    ("naive_call_start", {"call_started_at": datetime(2025, 1, 1)}, "naive_datetime", "call_started_at"),
]


@pytest.mark.parametrize(
    ("overrides", "code", "field"), [r[1:] for r in RECEIVE_REFUSALS], ids=[r[0] for r in RECEIVE_REFUSALS]
)
def test_receive_refuses_bad_intake(overrides: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        _receive(**overrides)
    assert (refused.value.code, refused.value.field) == (code, field)
