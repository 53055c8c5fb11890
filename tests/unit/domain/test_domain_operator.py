"""The operator's facts on a complaint: emergency transfers, repeat calls, first-contact answers, agreed times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from events.complaint import Complaint, EmergencyTransferRecorded
from events.errors import DomainError
from tests.unit.domain.conftest import assess

Build = Callable[[str], Complaint]


@pytest.mark.parametrize("service", ["110", "119", "120"])
def test_transfer_to_an_emergency_service_is_recorded_with_who_and_why(build: Build, service: str) -> None:
    c = build("received")
    c.record_emergency_transfer(service, "operator:chen", "two people trapped by water")
    [event] = c.collect_events()
    assert isinstance(event, EmergencyTransferRecorded)
    assert (event.service, event.by, event.reason) == (
        service,
        "operator:chen",
        "two people trapped by water",
    )
    assert c.emergency_transfers == [
        {
            "service": service,
            "by": "operator:chen",
            "reason": "two people trapped by water",
            "at": event.timestamp,
        }
    ]


@pytest.mark.parametrize(
    ("state", "service", "by", "reason", "code"),
    [
        ("received", "999", "operator:chen", "fire", "unknown_emergency_service"),
        ("received", "119", " ", "fire", "by_required"),
        ("received", "119", "operator:chen", "", "reason_required"),
        ("closed", "119", "operator:chen", "fire", "complaint_closed"),
        ("rejected", "120", "operator:chen", "injury", "complaint_rejected"),
    ],
)
def test_transfer_refusals(build: Build, state: str, service: str, by: str, reason: str, code: str) -> None:
    c = build(state)
    with pytest.raises(DomainError) as refused:
        c.record_emergency_transfer(service, by, reason)
    assert refused.value.code == code
    assert c.collect_events() == []


def test_a_caller_transferred_twice_keeps_both_transfers(build: Build) -> None:
    c = build("dispatched")
    c.record_emergency_transfer("119", "operator:chen", "fire")
    c.record_emergency_transfer("120", "operator:chen", "someone burnt")
    assert [t["service"] for t in c.emergency_transfers] == ["119", "120"]


def test_repeat_call_counts_on_the_same_complaint(build: Build) -> None:
    c = build("dispatched")
    c.repeat_call("still no water", "hotline")
    c.repeat_call("third call", "hotline")
    assert c.repeat_calls == 2
    assert c.status == "dispatched"


def test_first_contact_resolution_names_the_answer_given(build: Build) -> None:
    c = build("received")
    c.resolve("hotline_office", "Told the caller power is back by 18:00", "first_contact", "notice:abc")
    assert c.resolution is not None
    assert (c.resolution["outcome"], c.resolution["answer_ref"]) == ("first_contact", "notice:abc")


def test_first_contact_without_an_answer_is_refused(build: Build) -> None:
    with pytest.raises(DomainError) as refused:
        build("received").resolve("hotline_office", "told them", "first_contact", None)
    assert refused.value.code == "answer_ref_required"


def test_agreed_time_in_the_past_is_refused(build: Build) -> None:
    now = datetime.now(UTC)
    with pytest.raises(DomainError) as refused:
        build("received").agree_resolution_time(now - timedelta(minutes=1), now)
    assert refused.value.code == "agreed_time_in_past"


def test_agreed_time_beyond_resolve_by_needs_command(build: Build) -> None:
    c = build("validated")
    assess(c)  # resolve-by in 24 h
    now = datetime.now(UTC)
    later = now + timedelta(hours=30)
    with pytest.raises(DomainError) as refused:
        c.agree_resolution_time(later, now)
    assert refused.value.code == "beyond_resolve_by_needs_approval"
    c.agree_resolution_time(later, now, approved_by_command=True)
    assert c.agreed_resolution_at == later
