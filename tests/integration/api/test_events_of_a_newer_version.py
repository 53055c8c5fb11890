"""An upgrade under way: events a newer Levee wrote, met by this version's workers and API on a real stream.

Read as this version's, an event of a later class_version loses what it adds without a word, and one of an
unknown kind cannot be read at all. Triage acted on the first as if nothing were wrong (validated, assessed,
linked it; dispatch then sent it to a department the board never showed), and the API answered the second
with a plain-text 500 (an erasure on that case did not happen). Found by a review of backups and upgrades."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from events.complaint import Complaint
from events.mapper import NewerEventError, make_mapper, make_transcoder
from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, VERSION, AggregateStore
from services.api.problems import UPGRADE_RETRY_AFTER_SECONDS
from services.triage.app import build_worker, default_deps
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import open_staff
from tests.integration.triage.test_triage_worker import drain, put, receive, topics


async def store_as_newer(store: JetStreamEventStore, complaint: Complaint) -> uuid.UUID:
    """The complaint's receipt stored as a newer Levee would write it: class_version 99 and a field of its own."""
    repository = AggregateStore(store, make_mapper())
    [write] = await repository.writes_for(complaint)
    state = json.loads(write.data)
    state.update(class_version=99, reporter_language="yue")
    await store.append([Write(write.subject, json.dumps(state).encode(), write.headers, expected_last_seq=0)])
    return complaint.id


async def test_triage_sets_aside_a_complaint_a_newer_version_wrote_and_goes_on(
    store: JetStreamEventStore,
) -> None:
    newer = await store_as_newer(store, receive("救命！我们被困在二楼，家里进水了，水已经到膝盖"))
    [ours] = await put(
        store, receive("Water up to the knees in the ground floor, two people trapped upstairs")
    )
    await drain(build_worker(store, default_deps(), max_attempts=1))
    assert await topics(store, newer) == ["ComplaintReceived"]  # not validated, assessed or linked as misread
    [dead] = await store.read_subject(store.spec.dead_letter_subject("triage"))
    assert "NewerEventError" in json.loads(dead.data)["error"]
    assert await topics(store, ours) == ["ComplaintReceived", "ComplaintValidated", "PriorityAssessed"]
    with pytest.raises(NewerEventError, match="class_version 99"):
        await AggregateStore(store, make_mapper()).get(newer)


@pytest.mark.parametrize("newer", ["kind", "class_version"])
async def test_the_api_answers_503_for_a_case_holding_a_newer_event_and_changes_nothing(
    make_client: MakeClient, newer: str
) -> None:
    staff = await open_staff(await make_client())
    case = await staff.dispatched_case()
    store = staff.aggregates.store
    subject = store.spec.event_subject(case.id)
    [last] = (await store.read_subject(subject))[-1:]
    if newer == "kind":
        data, topic = (
            b'{"timestamp": "2026-12-07T01:00:00+00:00", "language": "yue"}',
            "events.complaint:ComplaintTranslated",
        )
    else:
        state = json.loads(last.data)
        data, topic = json.dumps({**state, "class_version": 99}).encode(), last.headers[TOPIC]
    headers = {TOPIC: topic, VERSION: str(int(last.headers[VERSION]) + 1)}
    await store.append([Write(subject, data, headers, expected_last_seq=last.seq)])
    for action in ("escalate", "accept"):
        status, problem = await staff.post(
            f"/api/v1/complaints/{case.id}/{action}", "command" if action == "escalate" else "department:water",
            {"level": 2, "reason": "Crowd gathering"} if action == "escalate" else {},
        )  # fmt: skip
        assert status == 503, problem
        assert problem["code"] == "written_by_newer_version" and "upgrade" in problem["detail"]
    response = await staff.client.post(
        f"/api/v1/complaints/{case.id}/escalate", json={"level": 2, "reason": "Crowd gathering"},
        headers={"Authorization": f"Bearer {staff.tokens['command']}"},
    )  # fmt: skip
    assert response.headers["Retry-After"] == str(UPGRADE_RETRY_AFTER_SECONDS)
    assert len(await store.read_subject(subject)) == int(last.headers[VERSION]) + 1  # nothing after it


async def test_a_complaint_stored_by_the_first_version_is_triaged_and_commanded_on_a_real_stream(
    make_client: MakeClient,
) -> None:
    """The other way round: the bytes of a version-1 receipt (before call_started_at and public_description),
    as a stream kept from the first release holds them, read by today's triage and API."""
    staff = await open_staff(await make_client())
    store = staff.aggregates.store
    complaint_id = uuid.uuid4()
    v1 = {
        "timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=UTC), "originator_topic": "events.complaint:Complaint",
        "tracking_code": "LV-7K3QX9", "channel": "hotline",
        "description": "Power cut since dawn, my father on a home ventilator, call 9123 4567",
        "category": "power_outage", "lat": 22.5, "lon": 113.9, "district": "harbourfront", "people_affected": 40,
        "vulnerable": ["patient"], "media_exposure": False, "reporter_sealed": None, "contact_hash": None,
        "received_by": "operator-chen",
    }  # fmt: skip
    headers = {TOPIC: "events.complaint:ComplaintReceived", VERSION: "1"}
    subject = store.spec.event_subject(complaint_id)
    await store.append([Write(subject, make_transcoder().encode(v1), headers, expected_last_seq=0)])
    await drain(build_worker(store, default_deps()))
    assert await topics(store, complaint_id) == [
        "ComplaintReceived",
        "ComplaintValidated",
        "PriorityAssessed",
    ]
    complaint = await AggregateStore(store, make_mapper()).get(complaint_id, Complaint)
    assert complaint.call_started_at is None and "9123 4567" not in complaint.public_description
    status, answer = await staff.post(
        f"/api/v1/complaints/{complaint_id}/escalate", "command", {"level": 2, "reason": "Ventilator at home"}
    )
    assert status == 200, answer
    assert answer["status"] != "received" and answer["version"] == 4
