"""Merging incidents that turn out to be one event, and moving a complaint with its incident."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from events.complaint import Complaint, ComplaintMovedToIncident
from events.errors import DomainError
from events.incident import Incident, IncidentAbsorbed, IncidentMerged
from events.incident_rules import ABSORB_PART
from events.mapper import reconstruct
from tests.unit.domain.conftest import INCIDENT_ID


def _incident(title: str = "Medical access in Old Town", *complaints: UUID) -> Incident:
    incident = Incident.declare(
        title=title, kind="medical_access", districts=["old_town"], declared_by="triage"
    )
    for complaint_id in complaints:
        incident.link_complaint(complaint_id)
    incident.collect_events()
    return incident


def test_merging_ends_the_source_and_the_target_counts_its_complaints() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    source, target = _incident("second group", a, b), _incident("first group", c)
    source.merge_into(target, by="cmd-wu", reason="one event")
    [merged] = source.collect_events()
    [absorbed] = target.collect_events()
    assert isinstance(merged, IncidentMerged) and merged.into == target.id and merged.reason == "one event"
    assert isinstance(absorbed, IncidentAbsorbed) and absorbed.source_id == source.id
    assert absorbed.complaint_ids == [a, b]
    assert source.merged_into == target.id and source.status == "investigating" and not source.is_active
    assert target.complaint_ids == [c, a, b] and target.position_of(b) == 2 and target.is_active


def test_a_large_incident_is_absorbed_in_parts_that_each_fit_one_batch_of_moves() -> None:
    ids = [uuid4() for _ in range(ABSORB_PART * 2 + 1)]
    source, target = _incident("big", *ids), _incident("small")
    source.merge_into(target, by="triage", reason="one event")
    parts = target.collect_events()
    assert [len(p.complaint_ids) for p in parts] == [ABSORB_PART, ABSORB_PART, 1]  # type: ignore[attr-defined]
    assert target.complaint_ids == ids


def test_an_empty_incident_is_still_recorded_as_absorbed() -> None:
    source, target = _incident("empty"), _incident("other")
    source.merge_into(target, by="cmd-wu", reason="same burst main")
    [absorbed] = target.collect_events()
    assert isinstance(absorbed, IncidentAbsorbed) and absorbed.complaint_ids == []


def _merged() -> Incident:
    incident, elsewhere = _incident("merged"), _incident("elsewhere")
    incident.merge_into(elsewhere, by="cmd-wu", reason="one event")
    incident.collect_events()
    return incident


def _resolved() -> Incident:
    incident = _incident("resolved")
    incident.update_status("resolved", by="cmd-wu")
    incident.collect_events()
    return incident


@pytest.mark.parametrize(
    ("source", "target", "code", "field"),
    [
        ("same", "same", "merge_into_itself", "into"),
        ("merged", "fresh", "incident_merged", None),
        ("fresh", "merged", "target_merged", None),
        ("fresh", "resolved", "target_resolved", None),
    ],
    ids=["into_itself", "merged_again", "into_merged", "into_resolved"],
)
def test_merge_refusals_record_nothing(source: str, target: str, code: str, field: str | None) -> None:
    made: dict[str, Callable[[], Incident]] = {"fresh": _incident, "merged": _merged, "resolved": _resolved}
    first = made["fresh"]() if source == "same" else made[source]()
    second = first if target == "same" else made[target]()
    with pytest.raises(DomainError) as refused:
        first.merge_into(second, by="cmd-wu", reason="one event")
    assert (refused.value.code, refused.value.field) == (code, field)
    assert first.collect_events() == [] and second.collect_events() == []


@pytest.mark.parametrize(
    ("by", "reason", "code"), [("", "x", "by_required"), ("cmd", " ", "reason_required")]
)
def test_merge_needs_who_and_why(by: str, reason: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        _incident().merge_into(_incident("other"), by=by, reason=reason)
    assert refused.value.code == code


def test_a_merged_incident_takes_no_complaint_and_no_status() -> None:
    merged = _merged()
    for act in (lambda: merged.link_complaint(uuid4()), lambda: merged.update_status("identified", "cmd-wu")):
        with pytest.raises(DomainError) as refused:
            act()
        assert refused.value.code == "incident_merged"
    assert merged.collect_events() == []


def test_a_resolved_incident_may_be_merged_into_an_active_one() -> None:
    source, target = _resolved(), _incident("active")
    source.merge_into(target, by="cmd-wu", reason="one event")
    assert source.merged_into == target.id and source.status == "resolved"


def test_merge_replays_to_the_same_state() -> None:
    a, b = uuid4(), uuid4()
    source = Incident.declare(title="s", kind="flood", districts=[], declared_by="triage")
    target = Incident.declare(title="t", kind="flood", districts=[], declared_by="triage")
    source.link_complaint(a)
    target.link_complaint(b)
    source.merge_into(target, by="cmd", reason="r")
    again_source = reconstruct(source.collect_events(), Incident)
    again_target = reconstruct(target.collect_events(), Incident)
    assert again_source.merged_into == target.id and not again_source.is_active
    assert again_target.complaint_ids == [b, a] and again_target.has_complaint(a)


def test_a_linked_complaint_moves_with_its_merged_incident(build: Callable[[str], Complaint]) -> None:
    complaint, target = build("linked"), uuid4()
    complaint.move_to_incident(target, INCIDENT_ID)
    [moved] = complaint.collect_events()
    assert isinstance(moved, ComplaintMovedToIncident) and moved.from_incident_id == INCIDENT_ID
    assert complaint.incident_id == target


@pytest.mark.parametrize(
    ("state", "to", "from_", "code"),
    [
        ("received", "new", "given", "not_in_incident"),  # in no incident at all
        ("linked", "new", "other", "not_in_incident"),  # not in the incident it is moved out of
        ("linked", "given", "given", "already_linked_to_incident"),
    ],
)
def test_move_refusals(build: Callable[[str], Complaint], state: str, to: str, from_: str, code: str) -> None:
    ids = {"given": INCIDENT_ID, "new": uuid4(), "other": uuid4()}
    complaint = build(state)
    with pytest.raises(DomainError) as refused:
        complaint.move_to_incident(ids[to], ids[from_])
    assert refused.value.code == code
    assert complaint.collect_events() == []


def test_an_ended_complaint_stays_where_it_ended(build: Callable[[str], Complaint]) -> None:
    complaint = build("linked")
    complaint.reject("Outside the served area")
    complaint.collect_events()
    with pytest.raises(DomainError) as refused:
        complaint.move_to_incident(uuid4(), INCIDENT_ID)
    assert refused.value.code == "complaint_rejected"
