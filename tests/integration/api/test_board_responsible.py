"""The board shows who owns what is with command (责任人): nobody at first, then the names command gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, read_api
from tests.integration.projections.typhoon_night import Night, typhoon_night


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def _night(api: Harness) -> Night:
    night = typhoon_night()
    await AggregateStore(api.store, make_mapper()).save(*night.aggregates)
    await api.project()
    return night


async def _assign(api: Harness, path: str, person: str) -> None:
    response = await api.client.post(path, json={"person": person}, headers=await api.headers("command"))
    assert response.status == 200, await response.text()


def _by_id(rows: list[dict[str, Any]], ident: object) -> dict[str, Any]:
    return next(row for row in rows if row["id"] == str(ident))


async def test_the_board_shows_unassigned_then_the_names(api: Harness) -> None:
    night = await _night(api)
    before = await api.get_json("/api/v1/board", "command")
    counts = before["counts"]
    assert counts["unassigned_major"] == counts["escalated_to_command"] > 0, "nobody owns anything yet"
    assert counts["unassigned_incidents"] == len(before["incidents"])  # none resolved
    loner = _by_id(before["escalated_individual"], night.cases["loner"])
    assert (loner["responsible"], loner["incident_responsible"]) == (None, None)
    assert _by_id(before["escalated_by_incident"], night.incidents["flood"])["responsible"] is None
    assert _by_id(before["incidents"], night.incidents["flood"])["responsible"] is None

    await _assign(api, f"/api/v1/complaints/{night.cases['loner']}/responsible", "Li Wei")
    await _assign(api, f"/api/v1/incidents/{night.incidents['flood']}/responsible", "王芳")
    await _assign(api, f"/api/v1/incidents/{night.incidents['water']}/responsible", "Zhang Min")
    await api.project()
    after = await api.get_json("/api/v1/board", "command")

    loner = _by_id(after["escalated_individual"], night.cases["loner"])
    assert loner["responsible"] == "Li Wei" and loner["responsible_since"].endswith("+00:00")
    flood = _by_id(after["escalated_by_incident"], night.incidents["flood"])
    assert (flood["responsible"], flood["escalated"]) == ("王芳", 5)
    assert _by_id(after["incidents"], night.incidents["flood"])["responsible"] == "王芳"
    assert _by_id(after["escalated_by_incident"], night.incidents["power"])["responsible"] is None
    # The water incident's command-queue case is decided one by one: it names nobody, its incident does.
    queued = _by_id(after["escalated_individual"], night.cases["water-queue"])
    assert (queued["responsible"], queued["incident_responsible"]) == (None, "Zhang Min")
    # Owned now: the loner, the flood's five, the water incident's three (its command-queue case with them).
    assert after["counts"]["unassigned_major"] == counts["unassigned_major"] - 1 - 5 - 3
    assert after["counts"]["unassigned_incidents"] == counts["unassigned_incidents"] - 2

    detail = await api.get_json(f"/api/v1/complaints/{night.cases['loner']}", "command")
    assert detail["responsible"] == "Li Wei"
    assert detail["timeline"][-1]["kind"] == "ComplaintResponsibleAssigned"
    assert detail["timeline"][-1]["detail"]["person"] == "Li Wei"
