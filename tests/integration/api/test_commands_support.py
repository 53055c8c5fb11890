"""The harness the command, role and token tests share (no tests here): an in-process API on a fresh
stream and database, one token per role, and cases put into a given state directly through the store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web
from aiohttp.test_utils import TestClient

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store.aggregates import AggregateStore
from services.api import keys
from services.api.auth import TOKENS

DEPT = "water"  # the department the test cases are dispatched to
OTHER_DEPT = "power"
ROLES = ("operator", "command", "press", f"department:{DEPT}", f"department:{OTHER_DEPT}")


class Staff:
    def __init__(
        self,
        client: TestClient[web.Request, web.Application],
        tokens: dict[str, str],
        aggregates: AggregateStore,
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.aggregates = aggregates

    async def post(self, path: str, role: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        response = await self.client.post(path, json=body, headers=headers)
        return response.status, await response.json(content_type=None)

    async def command(self, complaint_id: UUID, action: str, role: str, body: Any = None) -> dict[str, Any]:
        """A command that must succeed: the new state."""
        status, answer = await self.post(f"/api/v1/complaints/{complaint_id}/{action}", role, body or {})
        assert status == 200, (action, status, answer)
        return answer

    async def prioritised_case(self) -> Complaint:
        """A complaint validated and assessed, ready to dispatch (intake and triage are not under test here)."""
        complaint = Complaint.receive(
            channel="web", description="Water main burst on Harbour Road", received_by="test"
        )
        complaint.validate()
        now = datetime.now(UTC)
        complaint.assess_priority(
            60, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(hours=24)
        )
        await self.aggregates.save(complaint)
        return complaint

    async def dispatched_case(self, department: str = DEPT) -> Complaint:
        complaint = await self.prioritised_case()
        await self.command(
            complaint.id, "dispatch", "command", {"department": department, "reason": "burst main"}
        )
        return complaint

    async def complaint(self, complaint_id: UUID) -> Complaint:
        return await self.aggregates.get(complaint_id, Complaint)


async def open_staff(client: TestClient[web.Request, web.Application]) -> Staff:
    """`client` from the API conftest's `make_client` (the app as deployed, on a fresh stream and database)."""
    tokens = {role: (await client.app[TOKENS].create(role, f"{role} desk"))[0] for role in ROLES}
    return Staff(client, tokens, AggregateStore(client.app[keys.NATS_LINK].store(), make_mapper()))
