"""What the operator reads while the caller waits: in a surge, the incident the caller rings about comes first."""

from __future__ import annotations

from uuid import uuid4

from events.incident import Incident
from tests.integration.operator.conftest import Console
from tests.integration.operator.helpers import aggregates


async def _incident(console: Console, title: str, kind: str, districts: list[str], reports: int) -> str:
    incident = Incident.declare(title=title, kind=kind, districts=districts, declared_by="triage")
    for _ in range(reports):
        incident.link_complaint(uuid4())
    await aggregates(console.store).save(incident)
    return title


async def test_the_callers_category_first_then_the_most_reported_and_citywide_ones_included(
    console: Console,
) -> None:
    # Declared in this order: the newest is a small one, as in a surge where small incidents keep coming.
    await _incident(console, "Power outage in Riverside", "power_outage", ["riverside"], 40)
    await _incident(console, "Typhoon warning", "flooding", [], 3)
    await _incident(console, "Fallen tree in Riverside", "fallen_tree", ["riverside"], 2)
    await _incident(console, "Flooding in Riverside", "flooding", ["riverside"], 12)
    await _incident(console, "Gas leak in Westbay", "gas_leak", ["westbay"], 9)
    await _incident(console, "Telecom outage in Riverside", "telecom_outage", ["riverside"], 2)
    await console.project()

    facts = await console.ok("GET", "/api/v1/operator/facts?district=riverside&category=flooding")
    assert [i["title"] for i in facts["incidents"]] == [
        "Flooding in Riverside", "Typhoon warning",  # the caller's category, most reported first
        "Power outage in Riverside",
        "Telecom outage in Riverside", "Fallen tree in Riverside",  # as many reports: the newest first
    ]  # fmt: skip
    assert facts["incidents"][2]["linked_complaints"] == 40

    # No category yet (the caller has only just started): the most reported first.
    facts = await console.ok("GET", "/api/v1/operator/facts?district=riverside")
    assert [i["title"] for i in facts["incidents"]][:2] == [
        "Power outage in Riverside",
        "Flooding in Riverside",
    ]
    assert "Gas leak in Westbay" not in [i["title"] for i in facts["incidents"]]
