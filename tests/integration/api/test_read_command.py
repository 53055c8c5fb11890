"""What command staff must see: the command queue, level-2 escalations, extension requests and dead letters,
as lists, filters and board panels; and a list parameter the API does not know is refused, not ignored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from events.mapper import make_mapper
from events.reference import COMMAND_QUEUE, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.dispatch.command_queue import with_command_queue
from services.runtime.worker import Worker
from tests.integration.pages.harness import Harness, read_api
from tests.integration.projections.day import _assess, _receive
from tests.support.toy import HANDLERS, Counter, Tally
from tests.support.toy import mapper as toy_mapper

QUEUED_WHY = "no route for other: command decides"
MAJOR_WHY = "major complaint: media exposure"


@dataclass
class Cases:
    harness: Harness
    queued: str  # in the command queue (dispatch found no department)
    major: str  # escalated to level 2, held by power
    asking: str  # roads asked for more time


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Cases]:
    async with read_api(store, nats_url, database_url) as harness:
        queued = _receive("other", 22.45, 114.30)
        queued.validate()
        _assess(queued, "P3", 35)
        # As dispatch does it: the aggregate takes the command queue through dispatch's own adapter.
        reference = with_command_queue(load_reference(), COMMAND_QUEUE)
        queued.dispatch(COMMAND_QUEUE, by="dispatch-rules", reason=QUEUED_WHY, reference=reference)

        major = _receive("power_outage", 22.70, 113.95, media_exposure=True)
        major.validate()
        _assess(major, "P2", 70)
        major.dispatch("power", by="dispatch-rules", reason="category route")
        major.escalate(2, MAJOR_WHY, by="dispatch-rules")  # after queued's dispatch: the newer at command

        asking = _receive("road_blocked", 22.80, 114.30)
        asking.validate()
        _assess(asking, "P3", 40)
        asking.dispatch("roads", by="dispatch-rules", reason="category route")
        asking.accept("roads")
        asking.request_extension("roads", 120, "Bridge closed: crews go round")

        await AggregateStore(store, make_mapper()).save(queued, major, asking)
        await harness.project()
        yield Cases(harness, str(queued.id), str(major.id), str(asking.id))


def ids(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


async def test_command_reads_the_command_queue_and_lists_it_by_department(api: Cases) -> None:
    queue = await api.harness.get_json(f"/api/v1/departments/{COMMAND_QUEUE}/queue", "command")
    assert queue["department"] == COMMAND_QUEUE
    assert [item["id"] for item in queue["items"]] == [api.queued]
    assert queue["items"][0]["status"] == "dispatched" and queue["items"][0]["description"]

    page = await api.harness.get_json("/api/v1/complaints", "command", department=COMMAND_QUEUE)
    assert ids(page) == {api.queued}


@pytest.mark.parametrize(
    ("path", "params"),
    [(f"/api/v1/departments/{COMMAND_QUEUE}/queue", {}), ("/api/v1/complaints", {"department": COMMAND_QUEUE})],
)  # fmt: skip
async def test_department_staff_cannot_read_the_command_queue(api: Cases, path: str, params: dict) -> None:
    response = await api.harness.get(path, "department:drainage", **params)
    assert response.status == 403
    assert (await response.json())["code"] == "not_your_department"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"escalation_level": "2"}, {"major"}),
        ({"escalation_level": "1"}, {"long"}),
        ({"escalation_level": "escalated"}, {"major", "long"}),
        ({"escalation_level": "escalated", "status": "dispatched"}, {"major"}),
        ({"extension_pending": "true"}, {"asking"}),
    ],
)
async def test_escalation_and_extension_filters_select_their_complaints(
    api: Cases, params: dict, expected: set
) -> None:
    page = await api.harness.get_json("/api/v1/complaints", "command", **params)
    named = {"major": api.major, "asking": api.asking, "queued": api.queued, **api.harness.day.complaints}
    assert ids(page) == {str(named[name]) for name in expected}


async def test_level_zero_and_no_pending_extension_are_the_rest(api: Cases) -> None:
    everything = ids(await api.harness.get_json("/api/v1/complaints", "command", limit="200"))
    level0 = ids(
        await api.harness.get_json("/api/v1/complaints", "command", escalation_level="0", limit="200")
    )
    assert level0 == everything - {api.major, str(api.harness.day.complaints["long"])}
    settled = await api.harness.get_json(
        "/api/v1/complaints", "command", extension_pending="false", limit="200"
    )
    assert ids(settled) == everything - {api.asking}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"escalation_level": "3"}, "escalation_level"), ({"extension_pending": "perhaps"}, "extension_pending"),
     ({"escalation": "2"}, "escalation"), ({"departmnet": "water"}, "departmnet")],
)  # fmt: skip
async def test_a_wrong_or_unknown_parameter_is_422_naming_it(api: Cases, params: dict, field: str) -> None:
    response = await api.harness.get("/api/v1/complaints", "command", **params)
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["detail"]


async def test_every_documented_list_parameter_is_taken(api: Cases) -> None:
    document = await api.harness.get_json("/api/openapi.json")
    documented = [p["name"] for p in document["paths"]["/api/v1/complaints"]["get"]["parameters"]]
    assert {"escalation_level", "extension_pending"} <= set(documented)
    for name in documented:
        response = await api.harness.get("/api/v1/complaints", "command", **{name: "x"})
        errors = (await response.json()).get("errors", []) if response.status == 422 else []
        assert not [e for e in errors if "unknown parameter" in e["message"]], (name, errors)


async def test_board_shows_what_waits_on_command(api: Cases) -> None:
    board = await api.harness.get_json("/api/v1/board", "command")
    escalated = board["escalated_to_command"]
    assert [e["id"] for e in escalated] == [api.major, api.queued]  # newest arrival at command first
    major, queued = escalated
    assert (major["escalation_level"], major["in_command_queue"], major["why"]) == (2, False, MAJOR_WHY)
    assert (major["category"], major["district"], major["level"]) == ("power_outage", "central_hills", "P2")
    assert (queued["escalation_level"], queued["in_command_queue"], queued["why"]) == (0, True, QUEUED_WHY)
    assert [x["id"] for x in board["extension_requests"]] == [api.asking]
    request = board["extension_requests"][0]
    assert (request["department"], request["minutes"], request["reason"]) == (
        "roads", 120, "Bridge closed: crews go round")  # fmt: skip
    counts = board["counts"]
    assert (counts["escalated_to_command"], counts["extension_pending"], counts["dead_letters"]) == (2, 1, 0)
    assert board["dead_letters"] == []
    [row] = [d for d in board["departments"] if d["department"] == COMMAND_QUEUE]
    assert (row["open"], row["name_zh"], row["name_en"]) == (1, "指挥部队列", "Command queue")


async def test_a_dead_lettered_event_is_listed_for_command(api: Cases, store: JetStreamEventStore) -> None:
    toys = AggregateStore(store, toy_mapper())
    await toys.save(Tally())
    poison = Counter(name="poison-7")
    await toys.save(poison)
    worker = Worker("toy", store, toys, HANDLERS, max_attempts=2)
    await worker.start()
    async with asyncio.timeout(60):
        while await worker.process_batch():
            pass
    [failed] = [m for m in await store.read(after_seq=0, limit=1000) if b"poison-7" in m.data]
    await api.harness.project()

    page = await api.harness.get_json("/api/v1/dead-letters", "command")
    assert len(page["items"]) == 1
    dead = page["items"][0]
    assert (dead["worker"], dead["event_position"], dead["event_subject"]) == (
        "toy",
        failed.seq,
        failed.subject,
    )
    assert "poison-7" in dead["error"] and dead["attempts"] == 2 and dead["at"]
    board = await api.harness.get_json("/api/v1/board", "command")
    assert board["counts"]["dead_letters"] == 1
    assert [d["position"] for d in board["dead_letters"]] == [dead["position"]]
    for role, status in ((None, 401), ("operator", 403), ("department:drainage", 403), ("press", 403)):
        assert (await api.harness.get("/api/v1/dead-letters", role)).status == status
    refused = await api.harness.get("/api/v1/dead-letters", "command", worker="toy")
    assert refused.status == 422 and json.loads(await refused.text())["errors"][0]["field"] == "worker"
