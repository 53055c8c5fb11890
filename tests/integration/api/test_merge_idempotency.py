"""Idempotency-Key on merging incidents (POST /api/v1/incidents/{id}/merge), against real NATS and PostgreSQL.

A merge retried without a key already stores nothing (it answers `already_merged`); with a key, the retry is
answered as the other keyed commands answer theirs (`Idempotent-Replayed: true`), another body is 422, and
identical requests at once merge once."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_command_idempotency import topics
from tests.integration.api.test_commands_merge import incident_with
from tests.integration.api.test_commands_support import Staff, open_staff

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
REASON = "One burst main on Harbour Road"

Answer = tuple[int, dict[str, Any], bool]  # status, body, replayed


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def merge(staff: Staff, source: UUID, body: dict[str, Any], key: str | None) -> Answer:
    headers = {"Authorization": f"Bearer {staff.tokens['command']}"}
    if key is not None:
        headers[KEY] = key
    response = await staff.client.post(f"/api/v1/incidents/{source}/merge", json=body, headers=headers)
    return response.status, await response.json(content_type=None), response.headers.get(REPLAYED) == "true"


async def two_incidents(staff: Staff) -> tuple[UUID, UUID]:
    water, _ = await incident_with(staff, "Water outage in Old Town", "water_outage", 3)
    flood, _ = await incident_with(staff, "Flooding in Old Town", "flooding", 2)
    return water.id, flood.id


async def test_a_merge_retried_with_its_key_is_answered_as_a_replay_and_stores_nothing(staff: Staff) -> None:
    water, flood = await two_incidents(staff)
    body = {"into": str(flood), "reason": REASON}
    first = await merge(staff, water, body, "merge-key-0001")
    assert first[0] == 200 and not first[2] and first[1]["moving"] == 3, first
    before = await staff.aggregates.store.last_sequence()
    again = await merge(staff, water, body, "merge-key-0001")
    assert again[0] == 200 and again[2], again
    assert (again[1]["merged_into"], again[1]["already_merged"], again[1]["moving"]) == (str(flood), True, 0)
    assert await staff.aggregates.store.last_sequence() == before
    store = staff.aggregates.store
    messages = await store.read_subject(store.spec.event_subject(water))
    assert [m.headers.get("Levee-Request") is not None for m in messages][-1], (
        "on the source's IncidentMerged"
    )


async def test_the_merge_key_with_another_body_is_422(staff: Staff) -> None:
    water, flood = await two_incidents(staff)
    await merge(staff, water, {"into": str(flood), "reason": REASON}, "merge-key-0002")
    for other in ({"into": str(flood), "reason": "Same street"}, {"into": str(water), "reason": REASON}):
        status, problem, replayed = await merge(staff, water, other, "merge-key-0002")
        assert status == 422 and not replayed, problem
        assert problem["code"] == "idempotency_key_reused" and [e["field"] for e in problem["errors"]] == [
            KEY
        ]


async def test_identical_keyed_merges_sent_at_once_merge_once(staff: Staff) -> None:
    water, flood = await two_incidents(staff)
    body = {"into": str(flood), "reason": REASON}
    answers = await asyncio.gather(*(merge(staff, water, body, "merge-key-0003") for _ in range(3)))
    assert {status for status, _, _ in answers} == {200}, answers
    assert sum(not replayed for _, _, replayed in answers) == 1, answers
    assert (await topics(staff, water)).count("IncidentMerged") == 1
    assert (await topics(staff, flood)).count("IncidentAbsorbed") == 1
