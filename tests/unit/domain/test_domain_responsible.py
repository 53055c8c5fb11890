"""The named person responsible (责任人) for a complaint or an incident: assigned, replaced, refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from events.complaint import Complaint, ComplaintResponsibleAssigned
from events.errors import DomainError
from events.incident import Incident, IncidentResponsibleAssigned
from events.mapper import make_mapper, reconstruct
from events.responsible import MAX_PERSON_LENGTH, person_name
from tests.unit.domain.conftest import complaint_in


def _incident(status: str = "investigating", responsible: str | None = None) -> Incident:
    incident = Incident.declare(title="Riverside flood", kind="flood", districts=[], declared_by="cmd-wu")
    if status != "investigating":
        incident.update_status(status, by="cmd-wu")
    if responsible is not None:
        incident.assign_responsible(responsible, by="cmd-wu")
    incident.collect_events()
    return incident


def _merged() -> Incident:
    incident, target = _incident(), _incident()
    incident.merge_into(target, by="cmd-wu", reason="One burst main")
    incident.collect_events()
    return incident


def test_a_major_complaint_gets_a_named_person_and_a_replacement_says_whom_it_replaced() -> None:
    c = complaint_in("escalated")
    c.assign_responsible("  Li   Wei ", by="cmd-wu", note="duty officer tonight")
    c.assign_responsible("Zhang Min", by="cmd-wu")
    first, second = c.collect_events()
    assert isinstance(first, ComplaintResponsibleAssigned) and isinstance(
        second, ComplaintResponsibleAssigned
    )
    assert (first.person, first.previous, first.by, first.note) == (
        "Li Wei",
        None,
        "cmd-wu",
        "duty officer tonight",
    )
    assert (second.person, second.previous, second.note) == ("Zhang Min", "Li Wei", "")
    assert c.responsible == "Zhang Min"


def test_an_incident_gets_a_named_person_and_it_survives_the_store() -> None:
    incident = _incident()
    incident.assign_responsible("王芳", by="cmd-wu")
    incident.assign_responsible("Li Wei", by="cmd-zhao", note="shift change")
    events = [e for e in incident.collect_events() if isinstance(e, IncidentResponsibleAssigned)]
    assert [(e.person, e.previous, e.by) for e in events] == [
        ("王芳", None, "cmd-wu"),
        ("Li Wei", "王芳", "cmd-zhao"),
    ]
    assert len(events) == 2
    mapper = make_mapper()
    back = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    assert back == events and type(back[0]) is IncidentResponsibleAssigned


def test_the_complaint_is_rebuilt_from_its_history_with_its_person_responsible() -> None:
    c = Complaint.receive(channel="web", description="Flood inside homes", received_by="public")
    c.escalate(2, "Media exposure", by="cmd-wu")
    c.assign_responsible("Li Wei", by="cmd-wu")
    c.assign_responsible("Zhang Min", by="cmd-wu")
    assert reconstruct(c.collect_events(), Complaint).responsible == "Zhang Min"


def test_a_snapshot_from_before_the_field_existed_still_takes_a_person() -> None:
    c = complaint_in("escalated")
    del c.__dict__["responsible"]  # as a Complaint snapshotted before this feature comes back
    c.assign_responsible("Li Wei", by="cmd-wu")
    [event] = c.collect_events()
    assert (
        isinstance(event, ComplaintResponsibleAssigned)
        and event.previous is None
        and c.responsible == "Li Wei"
    )


COMPLAINT_REFUSALS: list[tuple[str, str, Callable[[Complaint], None], str]] = [
    # (test id, state, command, expected code)
    ("closed", "closed", lambda c: c.assign_responsible("Li Wei", by="cmd-wu"), "complaint_closed"),
    ("rejected", "rejected", lambda c: c.assign_responsible("Li Wei", by="cmd-wu"), "complaint_rejected"),
    ("duplicate", "duplicate", lambda c: c.assign_responsible("Li Wei", by="cmd-wu"), "complaint_duplicate"),
    ("blank_person", "escalated", lambda c: c.assign_responsible("  \t ", by="cmd-wu"), "person_required"),
    ("person_too_long", "escalated", lambda c: c.assign_responsible("x" * (MAX_PERSON_LENGTH + 1), by="cmd-wu"),
     "person_too_long"),
    ("control_character", "escalated", lambda c: c.assign_responsible("Li\x00Wei", by="cmd-wu"), "person_invalid"),
    ("no_by", "escalated", lambda c: c.assign_responsible("Li Wei", by=" "), "by_required"),
    ("same_person_again", "escalated", lambda c: _twice(c, "Li Wei", "Li Wei"), "already_responsible"),
    ("same_person_other_case", "escalated", lambda c: _twice(c, "Li Wei", " li  WEI "), "already_responsible"),
]  # fmt: skip


def _twice(c: Complaint, first: str, second: str) -> None:
    c.assign_responsible(first, by="cmd-wu")
    c.collect_events()
    c.assign_responsible(second, by="cmd-wu")


@pytest.mark.parametrize(
    ("state", "command", "code"), [r[1:] for r in COMPLAINT_REFUSALS], ids=[r[0] for r in COMPLAINT_REFUSALS]
)
def test_complaint_refuses_and_records_nothing(
    state: str, command: Callable[[Complaint], None], code: str
) -> None:
    c = complaint_in(state)
    with pytest.raises(DomainError) as refused:
        command(c)
    assert refused.value.code == code
    assert c.collect_events() == []


INCIDENT_REFUSALS: list[tuple[str, Callable[[], Incident], str, str]] = [
    # (test id, incident, person, expected code)
    ("resolved", lambda: _incident("resolved"), "Li Wei", "incident_resolved"),
    ("merged", lambda: _merged(), "Li Wei", "incident_merged"),
    ("same_person_again", lambda: _incident(responsible="Li Wei"), "Li Wei", "already_responsible"),
    ("same_person_other_spacing", lambda: _incident(responsible="王芳"), " 王芳 ", "already_responsible"),
    ("blank_person", _incident, "", "person_required"),
    ("person_too_long", _incident, "名" * (MAX_PERSON_LENGTH + 1), "person_too_long"),
]


@pytest.mark.parametrize(
    ("make", "person", "code"), [r[1:] for r in INCIDENT_REFUSALS], ids=[r[0] for r in INCIDENT_REFUSALS]
)
def test_incident_refuses_and_records_nothing(make: Callable[[], Incident], person: str, code: str) -> None:
    incident = make()
    with pytest.raises(DomainError) as refused:
        incident.assign_responsible(person, by="cmd-wu")
    assert refused.value.code == code
    assert incident.collect_events() == []


def test_a_resolved_complaint_may_still_change_hands() -> None:
    c = complaint_in("resolved")
    c.assign_responsible("Li Wei", by="cmd-wu")
    assert c.responsible == "Li Wei"


@pytest.mark.parametrize(
    ("written", "recorded"),
    [("Li Wei", "Li Wei"), ("  Li \u3000 Wei\n", "Li Wei"), ("Zoe\u0301", "Zoé"), ("王芳", "王芳")],
)
def test_names_are_recorded_normalised(written: str, recorded: str) -> None:
    assert person_name(written) == recorded
