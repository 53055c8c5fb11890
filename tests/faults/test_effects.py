"""The fault audit's rules (effects.py), on histories built in memory: a clean story has no mismatch, and an
effect written twice, or on one side only, is reported. Pure: no system is started."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint, ComplaintReceived
from events.deadlines import WATCHER
from events.incident import Incident, IncidentDeclared
from events.mapper import reconstruct
from events.notice import Notice, NoticeDrafted
from events.reference import load_reference
from services.dispatch.rules import load_routing
from services.notices.drafting import summary_notice
from services.notices.summary import DRAFTED_BY, Figures, SummaryPolicy
from services.triage.indexes import Cluster, ClusterOpened, ContactIndex, member
from tests.faults import effects

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = SummaryPolicy(thresholds=(1,), min_complaints=1)  # a summary at every linked complaint
REFERENCE = load_reference()
FACTORS: list[dict[str, Any]] = [{"name": "danger", "weight": 40, "value": 1, "evidence": ["flooded"]}]


def _events(*aggregates: Any) -> effects.Histories:
    return {a.id: list(a.collect_events()) for a in aggregates}


def story() -> effects.Histories:
    """One complaint through triage, dispatch (an immediate escalation, a missed deadline), a duplicate of it
    by the same caller, its incident and the incident's summary draft."""
    original, again = (
        Complaint.receive(description=text, channel="hotline", received_by="op", category="flooding",
                          lat=22.70, lon=113.80, contact_hash="ab" * 32)
        for text in ("Flat flooded", "Flat flooded, again")
    )  # fmt: skip
    index = ContactIndex.start("ab" * 32, "flooding", member(original.id, "ab" * 32, 22.7, 113.8, None, NOW))
    cluster = Cluster.open("westbay", "flooding", 1)
    cluster.start_group(member(original.id, "ab" * 32, 22.7, 113.8, "westbay", NOW), incident_id=None,
                        carried=0, carried_members=[])  # fmt: skip
    incident = Incident.declare(title="flooding in westbay", kind="flooding", districts=["westbay"],
                                declared_by="triage")  # fmt: skip
    cluster.set_incident(0, incident.id)
    original.validate(by="triage")
    original.assess_priority(90, "P1", FACTORS, NOW + timedelta(minutes=15), NOW + timedelta(hours=4))
    original.link_to_incident(incident.id)
    incident.link_complaint(original.id)
    original.dispatch("drainage", by="dispatch", reason="route")
    original.escalate(2, "major complaint: P1 complaint", by="dispatch")
    original.escalate(
        2, "missed accept-by deadline 2026-11-23T12:15:00+00:00", by=WATCHER, deadline_missed=True
    )
    again.mark_duplicate(original.id)
    original.repeat_call(f"duplicate report {again.tracking_code}", "hotline")
    notice = summary_notice(incident, "complaints-1", Figures(1, 1, 0, None), reference=REFERENCE,
                            policy=POLICY, now=NOW)  # fmt: skip
    return _events(original, again, index, cluster, incident, notice)


def audit(
    histories: effects.Histories,
    *,
    watched_at: datetime | None = None,
    bulk_accepted: Collection[tuple[UUID, str]] | None = None,
) -> effects.Effects:
    """Every rule audit.py runs on the stream, on these histories."""
    found = effects.Effects()
    kinds = effects.split(histories)
    complaints = kinds.get(ComplaintReceived, {})
    effects.triage(complaints, kinds, found)
    effects.merges(complaints, kinds.get(IncidentDeclared, {}), found)
    effects.dispatch(complaints, load_routing(REFERENCE), REFERENCE, found, watched_at=watched_at)
    effects.acceptances(complaints, bulk_accepted or (), found)
    effects.notices(kinds.get(IncidentDeclared, {}), _notices(histories), POLICY, (), found)
    effects.live_summaries(_notices(histories), found)
    return found


def _notices(histories: effects.Histories) -> effects.Histories:
    return effects.split(histories).get(NoticeDrafted, {})


def _original(histories: effects.Histories) -> list[Any]:
    return next(h for h in histories.values() if isinstance(h[0], ComplaintReceived) and len(h) > 3)


def test_a_clean_story_counts_each_effect_once() -> None:
    found = audit(story())
    assert found.mismatches == []
    assert found.counts["ComplaintValidated"] == 1
    assert found.counts["ComplaintMarkedDuplicate"] == 1
    assert found.counts["ComplaintCallRepeated (from a duplicate)"] == 1
    assert found.counts["ComplaintEscalated (immediate, by dispatch)"] == 1
    assert found.counts["ComplaintEscalated (missed deadline, by the watcher)"] == 1
    assert found.counts["ComplaintLinkedToIncident"] == found.counts["ComplaintAddedToIncident"] == 1
    assert found.counts["NoticeDrafted (at a linked count)"] == 1


def _twice(topic: str, told: Callable[[], effects.Histories] = story) -> effects.Histories:
    """The story with the first event of `topic` written a second time, right after itself."""
    histories = told()
    for events in histories.values():
        for n, event in enumerate(events):
            if type(event).__name__ == topic:
                events.insert(n + 1, event)
                return histories
    raise AssertionError(f"no {topic} in the story")


@pytest.mark.parametrize(
    ("topic", "reported"),
    [
        ("ComplaintValidated", "decided 2 times"),
        ("ComplaintMarkedDuplicate", "decided 2 times"),
        ("ComplaintCallRepeated", "call recorded 2"),
        ("PriorityAssessed", "re-assessed without a rise"),
        ("ComplaintDispatched", "routed again with no new occasion"),
        ("ComplaintEscalated", "immediate escalations [2, 2] do not rise"),
        ("ComplaintLinkedToIncident", "linked to an incident 2 times"),
        ("ComplaintAddedToIncident", "added to the incident 2 times"),
        ("ContactIndexStarted", "contact index entries, wanted 1"),
        ("ClusterGroupStarted", "placed in a cluster 2 times"),
        ("ClusterIncidentSet", "incident set on cluster group 2 times"),
    ],
)
def test_an_effect_written_twice_is_a_mismatch(topic: str, reported: str) -> None:
    assert any(reported in m for m in audit(_twice(topic)).mismatches), audit(_twice(topic)).mismatches


def test_a_missed_deadline_recorded_twice_is_a_mismatch() -> None:
    histories = story()
    events = _original(histories)
    watcher = next(e for e in events if getattr(e, "by", None) == WATCHER)
    events.append(watcher)
    assert any("missed accept-by deadline" in m and "2 times" in m for m in audit(histories).mismatches)


def test_a_missed_deadline_never_recorded_is_a_mismatch() -> None:
    histories = story()
    later = NOW + timedelta(hours=1)  # the accept-by deadline (NOW + 15 min) has passed
    assert audit(histories, watched_at=later).mismatches == []
    events = _original(histories)
    events.remove(next(e for e in events if getattr(e, "by", None) == WATCHER))
    assert any("missed deadlines never recorded" in m for m in audit(histories, watched_at=later).mismatches)


def test_a_link_on_one_side_only_is_a_mismatch() -> None:
    histories = story()
    for events in histories.values():
        events[:] = [e for e in events if type(e).__name__ != "ComplaintAddedToIncident"]
    assert any("linked on the complaint's side only" in m for m in audit(histories).mismatches)


def test_a_missing_or_unknown_summary_draft_is_a_mismatch() -> None:
    histories = story()
    notice_id = next(iter(_notices(histories)))
    drafted = histories.pop(notice_id)
    assert any("no summary drafted at complaints-1" in m for m in audit(histories).mismatches)
    histories[notice_id] = drafted
    found = effects.Effects()
    effects.notices({}, _notices(histories), POLICY, (), found)
    assert any("no known occasion" in m for m in found.mismatches)


def test_a_major_complaint_never_escalated_is_a_mismatch() -> None:
    histories = story()
    for events in histories.values():
        events[:] = [e for e in events if type(e).__name__ != "ComplaintEscalated"]
    assert any("major (major complaint: P1 complaint)" in m for m in audit(histories).mismatches)


def _merge_story() -> tuple[effects.Histories, Any]:
    """The story, and a second incident of one report (its own cluster group) merged into the story's: the
    target's count goes from 1 to 2 in one IncidentAbsorbed, the report moves, the group follows the merge."""
    histories = story()
    [incident_id] = [i for i, h in histories.items() if isinstance(h[0], IncidentDeclared)]
    [cluster_id] = [i for i, h in histories.items() if isinstance(h[0], ClusterOpened)]
    incident, cluster = (
        reconstruct(histories[incident_id], Incident),
        reconstruct(histories[cluster_id], Cluster),
    )
    report = Complaint.receive(description="No water since noon", channel="hotline", received_by="op",
                               category="flooding", lat=22.71, lon=113.81)  # fmt: skip
    report.validate(by="triage")
    report.assess_priority(30, "P3", FACTORS, NOW + timedelta(hours=4), NOW + timedelta(days=3))
    report.dispatch("drainage", by="dispatch", reason="route")
    merged = Incident.declare(title="flooding in westbay", kind="flooding", districts=["westbay"],
                              declared_by="triage")  # fmt: skip
    cluster.start_group(member(report.id, None, 22.71, 113.81, "westbay", NOW), incident_id=None, carried=0,
                        carried_members=[])  # fmt: skip
    cluster.set_incident(1, merged.id)
    report.link_to_incident(merged.id)
    merged.link_complaint(report.id)
    first = summary_notice(merged, "complaints-1", Figures(1, 1, 0, None), reference=REFERENCE, policy=POLICY,
                           now=NOW)  # fmt: skip
    merged.merge_into(incident, by="triage", reason="one event")
    report.move_to_incident(incident.id, merged.id)
    cluster.set_incident(1, incident.id)  # a later report of that group follows the merge
    passed = summary_notice(incident, "complaints-2", Figures(2, 2, 0, None), reference=REFERENCE,
                            policy=POLICY, now=NOW)  # fmt: skip
    # The newer draft withdraws the older one still waiting (services/notices/superseding.py).
    [earlier] = [
        reconstruct(h, Notice) for h in _notices(histories).values() if h[0].incident_id == incident.id
    ]
    earlier.supersede(passed.id, by=DRAFTED_BY)
    for aggregate in (incident, cluster, earlier):
        histories[aggregate.id] += aggregate.collect_events()
    histories.update(_events(report, merged, first, passed))
    return histories, passed


def test_a_merge_expects_the_draft_at_the_count_it_passed_and_lets_a_group_follow_it() -> None:
    histories, passed = _merge_story()
    assert audit(histories).mismatches == []
    del histories[passed.id]
    assert any("no summary drafted at complaints-2" in m for m in audit(histories).mismatches)


def _merge_story_only() -> effects.Histories:
    return _merge_story()[0]


def _of_kind(histories: effects.Histories, topic: str) -> tuple[list[Any], int]:
    """The history holding the first event of `topic`, and that event's index in it."""
    for events in histories.values():
        for n, event in enumerate(events):
            if type(event).__name__ == topic:
                return events, n
    raise AssertionError(f"no {topic} in the story")


def test_a_merge_counts_its_list_and_its_move() -> None:
    found = audit(_merge_story_only())
    assert found.mismatches == []
    assert found.counts["IncidentMerged (by triage)"] == 1
    assert found.counts["complaints listed by IncidentAbsorbed"] == 1
    assert found.counts["ComplaintMovedToIncident"] == 1
    assert found.counts["NoticeCancelled (superseded by a newer draft)"] == 1
    assert found.counts["live automatic summary drafts"] == 2  # one of each incident


@pytest.mark.parametrize(
    ("topic", "reported"),
    [
        ("ComplaintMovedToIncident", "moved out of"),  # the second move's source is the target by then
        ("IncidentMerged", "merged 2 times"),
        ("IncidentAbsorbed", "listed by the merge of"),
    ],
)
def test_a_merge_effect_written_twice_is_a_mismatch(topic: str, reported: str) -> None:
    found = audit(_twice(topic, _merge_story_only))
    assert any(reported in m for m in found.mismatches), found.mismatches


def test_an_open_complaint_left_in_a_merged_incident_is_a_mismatch() -> None:
    histories = _merge_story_only()
    events, n = _of_kind(histories, "ComplaintMovedToIncident")
    del events[n]
    assert any("open, left in incident" in m for m in audit(histories).mismatches)


def test_a_complaint_ended_before_the_move_stays_where_it_ended() -> None:
    histories = _merge_story_only()
    events, n = _of_kind(histories, "ComplaintMovedToIncident")
    del events[n]
    report = reconstruct(events, Complaint)
    report.accept("drainage")
    report.resolve("drainage", "Pumped out; water back at 18:00")
    report.close()
    events += report.collect_events()
    found = audit(histories)
    assert found.mismatches == []
    assert found.counts["complaints left in a merged incident (ended)"] == 1


def test_a_merge_that_lists_not_every_complaint_is_a_mismatch() -> None:
    histories = _merge_story_only()
    events, n = _of_kind(histories, "IncidentAbsorbed")
    events[n] = dataclasses.replace(events[n], complaint_ids=[])
    found = audit(histories)
    assert any("1 complaints not listed" in m for m in found.mismatches), found.mismatches
    assert any("no merge listed it" in m for m in found.mismatches), found.mismatches


def _accepted_story() -> effects.Histories:
    """The story with the original complaint signed for by the department it was dispatched to."""
    histories = story()
    events = _original(histories)
    complaint = reconstruct(events, Complaint)
    complaint.accept("drainage")
    events += complaint.collect_events()
    return histories


def test_a_case_accepted_twice_for_one_dispatch_is_a_mismatch() -> None:
    found = audit(_accepted_story())
    assert found.mismatches == []
    assert found.counts["DispatchAccepted"] == 1
    assert any(
        "accepted for one dispatch 2 times" in m
        for m in audit(_twice("DispatchAccepted", _accepted_story)).mismatches
    )


def test_a_bulk_accepted_case_must_be_accepted_once_by_that_department() -> None:
    histories = _accepted_story()
    original = _original(histories)[0].originator_id
    found = audit(histories, bulk_accepted={(original, "drainage")})
    assert found.mismatches == []
    assert found.counts["DispatchAccepted (in bulk)"] == 1
    assert any(
        "DispatchAccepted 0 times" in m
        for m in audit(histories, bulk_accepted={(original, "power")}).mismatches
    )
    assert any(
        "DispatchAccepted 0 times" in m
        for m in audit(story(), bulk_accepted={(original, "drainage")}).mismatches
    )


def test_two_live_summary_drafts_of_one_incident_are_a_mismatch() -> None:
    histories = story()
    [incident_id] = [i for i, h in histories.items() if isinstance(h[0], IncidentDeclared)]
    incident = reconstruct(histories[incident_id], Incident)
    newer = summary_notice(incident, "complaints-2", Figures(1, 1, 0, None), reference=REFERENCE, policy=POLICY,
                           now=NOW)  # fmt: skip
    histories.update(_events(newer))
    found = effects.Effects()
    effects.live_summaries(_notices(histories), found)
    assert any("2 live automatic summary drafts" in m for m in found.mismatches), found.mismatches


def _redriven(
    *outcomes: tuple[int, dict[str, Any]], dead: tuple[tuple[int, dict[str, Any]], ...] = ()
) -> list[str]:
    """The re-drive rule on one dead letter (event 3, set aside at 5) and one request for it (at 10)."""
    found = effects.Effects()
    requests = [(10, {"event_position": 3, "dead_letter_position": 5})]
    effects.redrives("triage", [(5, {"seq": 3}), *dead], requests, list(outcomes), found)
    return found.mismatches


def test_a_retry_request_is_answered_exactly_once() -> None:
    succeeded = {"outcome": "succeeded", "seq": 3, "dead_letter_position": 5, "retry_position": 10}
    again = {"seq": 3, "retry_of": 5, "retry_position": 10}
    assert _redriven((12, succeeded)) == []
    assert _redriven(dead=((12, again),)) == []
    assert any("answered 0 times" in m for m in _redriven())
    assert any("answered 2 times" in m for m in _redriven((12, succeeded), dead=((13, again),)))
    assert any("re-driven successfully 2 times" in m for m in _redriven((12, succeeded), (14, succeeded)))
    assert any(
        "which is not one" in m for m in _redriven((12, succeeded), (14, {**succeeded, "retry_position": 11}))
    )


def reinstated_story(*, assessed: bool = True) -> effects.Histories:
    """A short call triage rejected, which command reinstated: taken from then on as a report of its own."""
    short = Complaint.receive(description="喂喂", channel="hotline", received_by="op", lat=22.70, lon=113.80,
                              contact_hash="cd" * 32)  # fmt: skip
    short.reject("no clear facts", by="triage")
    short.reinstate("a real flood: the line broke up", by="cmd-wu", category="flooding")
    index = ContactIndex.start("cd" * 32, "flooding", member(short.id, "cd" * 32, 22.7, 113.8, None, NOW))
    if assessed:
        short.assess_priority(60, "P2", FACTORS, NOW + timedelta(hours=1), NOW + timedelta(hours=24))
        short.dispatch("drainage", by="dispatch", reason="route")
    return _events(short, index)


def test_a_rejection_command_overruled_is_audited_as_a_report_taken() -> None:
    """Triage decided once (the rejection); from the reinstatement on, the complaint is taken as if validated:
    assessed once, in its reporter's index (a drill that reinstates must not read as mismatches)."""
    found = audit(reinstated_story())
    assert found.mismatches == []
    assert found.counts["ComplaintRejected"] == 1
    assert any("assessed 0 times" in m for m in audit(reinstated_story(assessed=False)).mismatches)
