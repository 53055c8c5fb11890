"""What command and a department's duty desk do in a fault scenario, through the API as their clients would:
merge two incidents, accept an incident's cases in bulk, ask a worker to re-drive a dead letter.

Each request is asked again while the answer is a 503 or no answer comes (NATS or PostgreSQL down, a
connection cut), a bounded number of times: every one of these requests may be repeated (a merge made
answers `already_merged`, a bulk accept acts on nothing new, a pending retry is refused), and the scenario
keeps what every answer said was stored (a bulk accept's 503 names the complaints stored before it failed).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from tests.faults.system import until

log = structlog.get_logger(__name__)

API = "/api/v1"
ATTEMPTS = 20  # tries of one request
BACK_OFF = 0.5  # seconds a client waits before it asks again after a 503 or no answer
PICKS = 3  # merges chosen again after a 409 (one of the two merged or resolved meanwhile)


@dataclass
class Desks:
    """Command's token and each department's, on one HTTP session; `tally` counts every answer (kind:status)."""

    session: aiohttp.ClientSession
    base_url: str
    command: str
    departments: Mapping[str, str]
    tally: Counter[str] = field(default_factory=Counter)
    # (complaint id, the department that signed for it in bulk): one case may be signed for in bulk by two
    # departments, when the first returned it and dispatch sent it on to the second between the two bulk accepts.
    bulk_accepted: set[tuple[str, str]] = field(default_factory=set)

    async def ask(
        self, kind: str, method: str, path: str, token: str, body: Any = None, **headers: str
    ) -> tuple[int, Any, list[Any]]:
        """(the last status, its body, every body answered with a 503 on the way)."""
        unavailable: list[Any] = []
        headers["Authorization"] = f"Bearer {token}"
        for _ in range(ATTEMPTS):
            try:
                async with self.session.request(
                    method, self.base_url + API + path, json=body, headers=headers
                ) as response:
                    payload = await response.json(content_type=None)
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.tally[f"{kind}:no answer"] += 1
                log.info("faults_desk_no_answer", kind=kind, error=repr(exc))
            else:
                self.tally[f"{kind}:{status}"] += 1
                if status != 503:
                    return status, payload, unavailable
                unavailable.append(payload)
            await asyncio.sleep(
                BACK_OFF
            )  # a client's back-off before it asks again, not a wait on a condition
        raise AssertionError(f"{kind} {path}: no answer but 503 in {ATTEMPTS} tries")

    # -- command merges the second-largest active incident into the largest ------------------------------

    async def merge_largest(self, reason: str) -> dict[str, Any] | None:
        """The merge's answer (None when no two active incidents could be merged)."""
        for _ in range(PICKS):
            pair = await self._two_largest()
            if pair is None:
                return None
            into, absorbed = pair
            status, answer, _ = await self.ask(
                "merge",
                "POST",
                f"/incidents/{absorbed}/merge",
                self.command,
                {"into": into, "reason": reason},
            )
            if status == 200:
                self.tally["merge: complaints moving"] += answer["moving"]
                return {**answer, "absorbed": absorbed}
            assert status == 409, (status, answer)  # merged or resolved meanwhile: choose again
        return None

    async def _two_largest(self) -> tuple[str, str] | None:
        found: list[dict[str, Any]] = []

        async def two_active() -> bool:
            status, page, _ = await self.ask("incidents", "GET", "/incidents", self.command)
            assert status == 200, (status, page)
            found[:] = [i for i in page["items"] if i["status"] != "resolved" and not i.get("merged_into")]
            return len(found) >= 2

        try:
            await until("two active incidents", two_active, 20.0, every=0.5)
        except TimeoutError:
            return None
        largest = sorted(found, key=lambda i: (-int(i["complaints"]), str(i["id"])))
        return str(largest[0]["id"]), str(largest[1]["id"])

    # -- a department signs for all its cases of one incident at once --------------------------------------

    async def bulk_accept(self, at_least: int = 5) -> int:
        """The department and incident with the most cases waiting for a sign-for (at least `at_least`, polled
        a bounded time) accept them in one request; how many it signed for (0: none waited)."""
        best: list[tuple[int, str, str]] = []

        async def enough_waiting() -> bool:
            best.clear()
            for code in self.departments:
                status, page, _ = await self.ask("department incidents", "GET", f"/departments/{code}/incidents",
                                                 self.command)  # fmt: skip
                assert status == 200, (status, page)
                best.extend((int(i["dispatched"]), code, str(i["id"])) for i in page["items"] if i["id"])
            best.sort(reverse=True)
            return bool(best) and best[0][0] >= at_least

        try:
            await until("cases waiting in an incident", enough_waiting, 20.0, every=0.5)
        except TimeoutError:
            return 0
        _, code, incident = best[0]
        status, answer, partial = await self.ask(
            "bulk accept", "POST", f"/incidents/{incident}/department-actions", self.departments[code],
            {"action": "accept"},
        )  # fmt: skip
        assert status == 200, (status, answer)
        acted = [i for a in (*partial, answer) for i in a.get("complaint_ids", [])]
        assert len(acted) == len(set(acted)), "a bulk accept answered for one case twice"
        for complaint_id in acted:
            assert (complaint_id, code) not in self.bulk_accepted, (
                f"{complaint_id} accepted in bulk by {code} twice"
            )
            self.bulk_accepted.add((complaint_id, code))
        self.tally["bulk accept: signed for"] += len(acted)
        for reason, n in answer["skipped"].items():
            self.tally[f"bulk accept: skipped {reason}"] += n
        return len(acted)

    # -- command asks a worker to handle a dead-lettered event again --------------------------------------

    async def retry(self, worker: str, event_position: int) -> tuple[int, Any]:
        """The answer: 202 with the request's position, or 409 `retry_pending` when an earlier try of this
        same request was stored but its answer lost."""
        status, answer, _ = await self.ask(
            "retry", "POST", f"/dead-letters/{worker}/{event_position}/retry", self.command, {}
        )
        assert status == 202 or (status == 409 and answer.get("code") == "retry_pending"), (status, answer)
        return status, answer
