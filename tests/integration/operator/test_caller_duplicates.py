"""The console's likely-duplicate hint: only for a caller's open case (a mutation of operator.py made it say so
of a resolved one, and the suite passed)."""

from __future__ import annotations

from tests.integration.operator.conftest import Console, hotline_call
from tests.integration.operator.helpers import resolved_by


async def test_a_resolved_case_is_not_a_likely_duplicate(console: Console) -> None:
    call = {"complaint": hotline_call("No power on our whole street since 6 this morning")}
    first = await console.ok("POST", "/api/v1/operator/calls", json=call, status=201)
    await resolved_by(console.store, first["id"], "power")
    await console.project()
    preview = await console.ok(
        "POST",
        "/api/v1/operator/preview",
        json={
            "description": "No power again on our street",
            "category": "power_outage",
            "district": "riverside",
            "phone": "139 1234 5678",
        },
    )
    assert "likely_duplicate" not in {i["code"] for i in preview["acceptance"]}
