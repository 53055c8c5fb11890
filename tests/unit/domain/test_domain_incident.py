"""Incidents group complaints about one event."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from events.errors import DomainError
from events.incident import Incident


def _declare(**overrides: Any) -> Incident:
    args: dict[str, Any] = {
        "title": "Substation failure", "kind": "power", "districts": ["old_town", "old_town", "newfield"],
        "declared_by": "cmd-wu", **overrides,
    }  # fmt: skip
    return Incident.declare(**args)


def test_incident_is_declared_investigating_then_moves_through_statuses() -> None:
    incident = _declare()
    assert (incident.status, incident.districts) == ("investigating", ["old_town", "newfield"])
    for status in ("identified", "monitoring", "resolved", "investigating"):
        incident.update_status(status, "cmd-wu")
    assert [type(e).__name__ for e in incident.collect_events()] == ["IncidentDeclared"] + [
        "IncidentStatusUpdated"
    ] * 4


def test_linked_complaints_are_remembered_in_order() -> None:
    incident = _declare()
    first, second = uuid4(), uuid4()
    incident.link_complaint(first)
    incident.link_complaint(second)
    assert incident.complaint_ids == [first, second]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"title": ""}, "title_required"),
        ({"kind": " "}, "kind_required"),
        ({"declared_by": ""}, "declared_by_required"),
        ({"districts": ["atlantis"]}, "unknown_district"),
    ],
    ids=["blank_title", "blank_kind", "no_declarer", "unknown_district"],
)
def test_declare_refuses_bad_input(overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(DomainError) as refused:
        _declare(**overrides)
    assert refused.value.code == code


def test_linking_a_complaint_twice_is_refused_and_records_nothing() -> None:
    incident = _declare()
    complaint_id = uuid4()
    incident.link_complaint(complaint_id)
    incident.collect_events()
    with pytest.raises(DomainError) as refused:
        incident.link_complaint(complaint_id)
    assert refused.value.code == "complaint_already_linked"
    assert incident.collect_events() == []


@pytest.mark.parametrize(
    ("status", "code"), [("investigating", "status_unchanged"), ("on_fire", "unknown_status")]
)
def test_status_update_refused_when_unchanged_or_unknown(status: str, code: str) -> None:
    incident = _declare()
    incident.collect_events()
    with pytest.raises(DomainError) as refused:
        incident.update_status(status, "cmd-wu")
    assert refused.value.code == code
    assert incident.collect_events() == []
