"""The board puts what needs command most first: incidents by open P1, overdue, open, then newest; what is
with command one line per incident, then the cases command decides one by one; the per-complaint list stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api.read_models import queries
from tests.integration.pages.harness import read_api
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.typhoon_night import P1_WHY, Night, typhoon_night


async def _project(store: JetStreamEventStore, make_runner: MakeRunner) -> Night:
    night = typhoon_night()
    await AggregateStore(store, make_mapper()).save(*night.aggregates)
    await (await make_runner()).catch_up()
    return night


def _keys(night: Night, ids: list) -> list[str]:
    names = {str(v): k for k, v in (*night.incidents.items(), *night.cases.items())}
    return [names.get(str(i), str(i)) for i in ids]


async def test_incidents_come_most_urgent_first_and_newest_first_only_as_the_last_tie_break(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    night = await _project(store, make_runner)
    board = await queries.board(pg)
    ranked = board["incidents"]
    assert _keys(night, [i["id"] for i in ranked]) == [
        "flood", "power", "water", "small-1", "small-4", "small-3", "small-2"]  # fmt: skip
    assert [(i["open_p1"], i["overdue"], i["open"], i["complaints"]) for i in ranked[:4]] == [
        (5, 0, 5, 5), (4, 3, 6, 6), (2, 2, 3, 3), (0, 1, 1, 1)]  # fmt: skip
    assert ranked[0]["title"] == night.titles["flood"] and "Harbourfront" in ranked[0]["title"]
    # The incidents list of the API keeps its order (newest first) and the same counts; a limit cuts it.
    newest = await queries.incidents_with_counts(pg)
    assert _keys(night, [i["id"] for i in newest])[:2] == ["small-4", "small-3"]
    assert sorted(newest, key=lambda i: str(i["id"])) == sorted(ranked, key=lambda i: str(i["id"]))
    top = await queries.incidents_with_counts(pg, by_urgency=True, limit=2)
    assert [i["id"] for i in top] == [i["id"] for i in ranked[:2]]


async def test_what_waits_on_command_is_one_line_per_incident_then_the_cases_to_decide_one_by_one(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    night = await _project(store, make_runner)
    board = await queries.board(pg)

    groups = board["escalated_by_incident"]
    assert _keys(night, [g["id"] for g in groups]) == ["flood", "power", "water"]
    assert [(g["escalated"], g["p1"], g["overdue"], g["in_command_queue"]) for g in groups] == [
        (5, 5, 0, 0), (4, 4, 3, 0), (3, 2, 2, 1)]  # fmt: skip
    assert groups[1]["title"] == night.titles["power"] and groups[1]["status"] == "investigating"
    power = await queries.list_complaints(pg, incident=night.incidents["power"], level="P1")
    assert groups[1]["oldest_received_at"] == min(c["received_at"] for c in power["items"])

    cases = board["escalated_individual"]
    assert _keys(night, [c["id"] for c in cases]) == ["overdue-loner", "queued", "loner", "water-queue"]
    assert [(c["overdue"], c["in_command_queue"]) for c in cases] == [
        (True, False), (False, True), (False, False), (False, True)]  # fmt: skip
    assert cases[3]["incident_id"] == night.incidents["water"]  # in an incident, but no department has it
    assert cases[2]["why"] == P1_WHY and cases[1]["why"] == "no department takes this"

    counts = board["counts"]
    assert (counts["escalated_to_command"], counts["escalated_individual"]) == (15, 4)
    # The per-complaint list is still there, newest arrival at command first, every case of it.
    everything = board["escalated_to_command"]
    assert len(everything) == 15 and _keys(night, [everything[0]["id"]]) == ["overdue-loner"]
    assert {c["id"] for c in cases} < {c["id"] for c in everything}


async def test_overdue_follows_the_clock_in_the_grouped_rows(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    night = await _project(store, make_runner)
    later = await queries.board(pg, now=datetime.now(UTC) + timedelta(hours=3))  # every accept-by has passed
    overdue = {k: g["overdue"] for k, g in zip(_keys(night, [g["id"] for g in later["escalated_by_incident"]]),
                                               later["escalated_by_incident"], strict=True)}  # fmt: skip
    assert overdue == {"power": 3, "flood": 0, "water": 3}  # signed-for cases run on their resolve clock
    assert _keys(night, [g["id"] for g in later["escalated_by_incident"]])[0] == "flood"  # P1 first still


async def test_the_board_json_carries_the_grouped_panels_beside_the_old_ones(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        night = typhoon_night()
        await AggregateStore(store, make_mapper()).save(*night.aggregates)
        await harness.project()
        board = await harness.get_json("/api/v1/board", "command")
    assert [g["id"] for g in board["escalated_by_incident"]] == [
        str(night.incidents[k]) for k in ("flood", "power", "water")]  # fmt: skip
    assert board["escalated_by_incident"][1]["oldest_received_at"].endswith("+00:00")
    assert board["escalated_individual"][0]["id"] == str(night.cases["overdue-loner"])
    assert board["incidents"][0]["id"] == str(night.incidents["flood"])
    assert board["counts"]["escalated_individual"] == 4 and len(board["escalated_to_command"]) == 15
    assert {"complaints", "open", "open_p1", "overdue"} <= set(board["incidents"][0])
