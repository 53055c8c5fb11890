"""Every event survives the trip to a StoredEvent and back; old versions are upcast on the way in."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from events.complaint import COMPLAINT_EVENTS, Complaint, ComplaintReceived
from events.errors import DomainError
from events.incident import INCIDENT_EVENTS, Incident
from events.mapper import make_mapper, make_transcoder, reconstruct
from events.notice import NOTICE_EVENTS, Notice


def _every_event(build: Callable[[str], Complaint]) -> list[Aggregate.Event]:
    events: list[Aggregate.Event] = []
    c = Complaint.receive(
        channel="web", description="No power", received_by="public", category="power_outage"
    )
    c.validate()
    c.link_to_incident(uuid4())
    c.move_to_incident(uuid4(), c.incident_id)  # type: ignore[arg-type]
    c.assess_priority(40, "P3", [{"name": "n", "weight": 0.1, "value": 2, "evidence": "e"}],
                      datetime.now(UTC), datetime.now(UTC))  # fmt: skip
    c.dispatch("gas", "cmd", "r")
    c.return_dispatch("gas", "not ours")
    c.dispatch("power", "cmd", "r")
    c.accept("power")
    c.note_progress("power", "crew out", public=True)
    c.request_extension("power", 30, "parts")
    c.deny_extension("cmd", "no")
    c.request_extension("power", 30, "parts")
    c.grant_extension("cmd", 30)
    c.escalate(2, "media", "cmd")
    c.assign_responsible("Li Wei", "cmd", note="duty officer")
    c.repeat_call("again", "app")
    c.record_emergency_transfer("119", "operator:chen", "people trapped")
    c.agree_resolution_time(datetime.now(UTC) + timedelta(days=30), datetime.now(UTC), True)
    c.resolve("power", "restored")
    c.attempt_follow_up("no answer")
    c.record_follow_up(True, "not_satisfied", "slow")
    c.reopen("flicker")
    c.resolve("power", "replaced transformer")
    c.close()
    c.redact("erasure")
    events += c.collect_events()
    rejected = build("received")
    rejected.reject("No facts")
    duplicate = build("received")
    duplicate.mark_duplicate(rejected.id)
    reinstated = build("rejected")
    reinstated.reinstate("a real flood: the text was short", by="cmd", category="flooding")
    events += rejected.collect_events() + duplicate.collect_events() + reinstated.collect_events()

    incident = Incident.declare(title="Flood", kind="flood", districts=["westbay"], declared_by="cmd")
    incident.update_status("identified", "cmd")
    incident.assign_responsible("王芳", "cmd")
    incident.link_complaint(c.id)
    other = Incident.declare(title="Burst main", kind="water_outage", districts=[], declared_by="triage")
    other.collect_events()
    other.merge_into(incident, by="cmd", reason="one event")
    events += incident.collect_events() + other.collect_events()

    notice = Notice.draft(incident_id=incident.id, title_en="Flood", title_zh="水浸", body_en="Avoid the area",
                          body_zh="请避开", status="investigating", drafted_by="press-li")  # fmt: skip
    notice.revise(title_en="Flood", title_zh="水浸", body_en="Avoid Westbay", body_zh="请避开西湾",
                  status="identified", revised_by="press-li")  # fmt: skip
    notice.approve("cmd-wu")
    notice.publish()
    notice.update(title_en="Flood", title_zh="水浸", body_en="Receding", body_zh="水位下降", status="monitoring",
                  updated_by="press-li")  # fmt: skip
    notice.cancel("Merged into citywide notice", "cmd-wu")
    events += notice.collect_events()
    return events


def test_every_event_type_round_trips_through_the_mapper(build: Callable[[str], Complaint]) -> None:
    mapper = make_mapper()
    events = _every_event(build)
    assert {type(e) for e in events} == {*COMPLAINT_EVENTS, *INCIDENT_EVENTS, *NOTICE_EVENTS}
    for event in events:
        stored = mapper.to_stored_event(event)
        assert stored.topic == f"events.{type(event).__module__.split('.')[-1]}:{type(event).__name__}"
        back = mapper.to_domain_event(stored)
        assert type(back) is type(event)
        assert back == event


def test_reconstruct_rebuilds_incident_and_notice(build: Callable[[str], Complaint]) -> None:
    events = _every_event(build)
    incident_events = [e for e in events if isinstance(e, Incident.Event)]
    first = incident_events[0].originator_id  # the last one is another incident's: merged into this one
    incident = reconstruct([e for e in incident_events if e.originator_id == first], Incident)
    notice = reconstruct([e for e in events if isinstance(e, Notice.Event)], Notice)
    assert (incident.status, len(incident.complaint_ids)) == ("identified", 1)
    assert notice.state == "cancelled"


def test_stored_complaint_received_says_it_is_version_3() -> None:
    c = Complaint.receive(channel="web", description="x", received_by="public")
    stored = make_mapper().to_stored_event(c.collect_events()[0])
    assert json.loads(stored.state)["class_version"] == 3


def test_version_1_complaint_received_is_upcast_with_no_call_start() -> None:
    complaint_id = uuid4()
    v1_state = {
        "timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=UTC),
        "originator_topic": "events.complaint:Complaint",
        "tracking_code": "LV-7K3QX9", "channel": "hotline", "description": "Power cut since dawn",
        "category": "power_outage", "lat": 22.5, "lon": 113.9, "district": "harbourfront", "people_affected": 40,
        "vulnerable": ["patient"], "media_exposure": False, "reporter_sealed": None, "contact_hash": None,
        "received_by": "operator-chen",
    }  # fmt: skip
    stored = StoredEvent(
        originator_id=complaint_id,
        originator_version=1,
        topic="events.complaint:ComplaintReceived",
        state=make_transcoder().encode(v1_state),
    )
    event = make_mapper().to_domain_event(stored)
    assert isinstance(event, ComplaintReceived)
    assert event.call_started_at is None
    complaint = reconstruct([event], Complaint)
    assert (complaint.id, complaint.tracking_code, complaint.call_started_at) == (
        complaint_id,
        "LV-7K3QX9",
        None,
    )


def test_version_2_complaint_received_is_upcast_with_a_pattern_masked_public_description() -> None:
    v2_state = {
        "timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=UTC),
        "originator_topic": "events.complaint:Complaint",
        "tracking_code": "LV-7K3QX9", "channel": "hotline",
        "description": "王小明 13812345678 ID 11010519491231002X wang@example.com: no power",
        "category": "power_outage", "lat": None, "lon": None, "district": None, "people_affected": 1,
        "vulnerable": [], "media_exposure": False, "reporter_sealed": "sealed", "contact_hash": None,
        "received_by": "operator-chen", "call_started_at": None, "class_version": 2,
    }  # fmt: skip
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic="events.complaint:ComplaintReceived",
        state=make_transcoder().encode(v2_state),
    )
    event = make_mapper().to_domain_event(stored)
    assert isinstance(event, ComplaintReceived)
    assert event.description == v2_state["description"]
    # The name is sealed, so only the patterns are masked; the text around them stays.
    assert event.public_description == "王小明 *********** ID ****************** ****************: no power"
    assert reconstruct([event], Complaint).public_description == event.public_description


def test_complaint_received_masks_its_public_description_by_pattern_unless_intake_gives_one() -> None:
    plain = Complaint.receive(channel="web", description="call 13812345678", received_by="public")
    given = Complaint.receive(
        channel="web", description="李四 here", received_by="public", public_description="** here"
    )
    assert (plain.public_description, given.public_description) == ("call ***********", "** here")


def test_version_1_complaint_validated_is_upcast_with_no_category_and_leaves_the_given_one() -> None:
    """v2 carries the category triage settled on; a v1 event (stored before) keeps the complaint's own."""
    c = Complaint.receive(
        channel="web", description="Power cut", received_by="public", category="power_outage"
    )
    received = c.collect_events()[0]
    v1_state = {"timestamp": datetime(2024, 7, 1, 9, 31, tzinfo=UTC),
                "originator_topic": "events.complaint:Complaint", "by": "triage"}  # fmt: skip
    stored = StoredEvent(
        originator_id=c.id, originator_version=2, topic="events.complaint:ComplaintValidated",
        state=make_transcoder().encode(v1_state),
    )  # fmt: skip
    validated = make_mapper().to_domain_event(stored)
    assert validated.category is None
    assert reconstruct([received, validated], Complaint).category == "power_outage"


def test_validation_records_the_category_triage_classified_and_refuses_an_unknown_one() -> None:
    c = Complaint.receive(channel="web", description="Strong smell of gas", received_by="public")
    with pytest.raises(DomainError):
        c.validate(by="triage", category="no_such_category")
    c.validate(by="triage", category="gas_leak")
    stored = make_mapper().to_stored_event(c.collect_events()[-1])
    assert json.loads(stored.state)["class_version"] == 2
    assert c.category == "gas_leak"


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (
            datetime(2026, 7, 1, 18, 0, tzinfo=timezone(timedelta(hours=8))),
            datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        ),
        # Past what UTC can hold: stored before 2026-12-07, it stopped the read models and every rebuild.
        (
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),
            datetime.max.replace(tzinfo=UTC),
        ),
    ],
    ids=["an offset", "year 10000 in UTC"],
)
def test_version_1_agreed_time_is_upcast_to_utc_within_what_a_date_holds(
    stored: datetime, read: datetime
) -> None:
    v1_state = {"timestamp": datetime(2026, 7, 1, 9, 31, tzinfo=UTC),
                "originator_topic": "events.complaint:Complaint", "agreed_at": stored,
                "approved_by_command": True}  # fmt: skip
    event = make_mapper().to_domain_event(
        StoredEvent(
            originator_id=uuid4(),
            originator_version=4,
            topic="events.complaint:ResolutionTimeAgreed",
            state=make_transcoder().encode(v1_state),
        )
    )
    assert event.agreed_at == read and event.agreed_at.utcoffset() == timedelta(0)
