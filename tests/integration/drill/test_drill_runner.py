"""The drill runner against the real API: a second run with the same seed records new complaints."""

from __future__ import annotations

from events.store import JetStreamEventStore
from services.drill.runner import run_drill
from services.drill.scenario import load_scenario, submissions
from tests.integration.pages.harness import read_api


async def test_a_rerun_with_the_same_seed_records_new_complaints_and_only_a_retried_run_replays(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    plan = list(submissions(load_scenario("typhoon"), seed=7, rate=50, duration=0.1))
    assert plan
    async with read_api(store, nats_url, database_url) as harness:
        base = str(harness.client.make_url("/"))
        operator = await harness.token("operator")
        first = await run_drill(base, plan, operator_token=operator)
        second = await run_drill(base, plan, operator_token=operator)
        retried = await run_drill(base, plan, operator_token=operator, run_id=first.run_id)
    # Before: every key was drill-{seed}-{i}, so the second run only replayed the first run's answers.
    assert first.run_id != second.run_id
    assert dict(first.statuses) == dict(second.statuses) == {201: len(plan)}
    assert first.replayed == second.replayed == 0
    assert not set(first.accepted_ids) & set(second.accepted_ids)
    # The same run id is the same run: its keys make a retry safe.
    assert retried.replayed == len(plan) and sorted(retried.accepted_ids) == sorted(first.accepted_ids)
