"""After erasure, the caller's number no longer finds the erased complaint.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

from tests.integration.operator.conftest import PHONE, Console, hotline_call

HISTORY = "/api/v1/operator/caller-history"


async def test_an_erased_caller_is_not_found_by_their_number(console: Console) -> None:
    call = {"complaint": hotline_call("No power on our whole street since 6 this morning")}
    stored = await console.ok("POST", "/api/v1/operator/calls", json=call, status=201)
    await console.project()
    assert len((await console.ok("POST", HISTORY, json={"phone": PHONE}))["items"]) == 1
    await console.ok("POST", f"/api/v1/complaints/{stored['id']}/redact", role="command",
                     json={"reason": "the caller asked to be forgotten"})  # fmt: skip
    await console.project()
    assert (await console.ok("POST", HISTORY, json={"phone": PHONE}))["items"] == []
