"""Simulated department desks for a drill: they watch their queues and accept, return or resolve cases
through the same HTTP API as people do, after realistic (seeded, scalable) delays."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StaffPlan:
    """Seconds from a case reaching a queue to its sign-for, and from sign-for to resolution."""

    accept_after: tuple[float, float] = (5.0, 40.0)
    resolve_after: tuple[float, float] = (20.0, 180.0)
    return_share: float = 0.08  # wrong department: sent back with a reason
    poll: float = 1.0


@dataclass
class _Due:
    when: float
    department: str
    action: str  # accept, return or resolve
    done: bool = False


class StaffDesks:
    """One desk per department token; each case is acted on once per step (sign-for or return, then resolve)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        tokens: Mapping[str, str],
        plan: StaffPlan,
        *,
        seed: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.api = base_url.rstrip("/") + "/api/v1"
        self.tokens = dict(tokens)
        self.plan = plan
        self.rng = random.Random(seed)
        self.clock = clock
        self.due: dict[tuple[str, str], _Due] = {}  # (case id, "sign" | "resolve") -> what to do when
        self.outcomes: Counter[str] = Counter()

    async def run(self, stop: asyncio.Event) -> Counter[str]:
        while not stop.is_set():
            await self.step()
            try:
                await asyncio.wait_for(stop.wait(), self.plan.poll)
            except TimeoutError:
                pass
        return self.outcomes

    async def step(self) -> None:
        """Look at every queue, schedule what is new, and do what has come due."""
        for department in self.tokens:
            for item in await self._queue(department):
                self._schedule(str(item["id"]), item["status"], department)
        now = self.clock()
        for (case, _), due in sorted(self.due.items(), key=lambda kv: kv[1].when):
            if not due.done and due.when <= now:
                await self._act(case, due)

    def _schedule(self, case: str, status: str, department: str) -> None:
        if status == "dispatched" and (case, "sign") not in self.due:
            action = "return" if self.rng.random() < self.plan.return_share else "accept"
            self.due[(case, "sign")] = _Due(
                self.clock() + self.rng.uniform(*self.plan.accept_after), department, action
            )
        elif status in ("accepted", "reopened") and (case, "resolve") not in self.due:
            when = self.clock() + self.rng.uniform(*self.plan.resolve_after)
            self.due[(case, "resolve")] = _Due(when, department, "resolve")

    async def _act(self, case: str, due: _Due) -> None:
        body: dict[str, Any] = {}
        if due.action == "return":
            body = {"reason": "Not ours: this belongs to another department (drill)"}
        elif due.action == "resolve":
            body = {"summary": "Crew on site; fixed and checked with the residents (drill)"}
        headers = {"Authorization": f"Bearer {self.tokens[due.department]}"}
        async with self.session.post(
            f"{self.api}/complaints/{case}/{due.action}", json=body, headers=headers
        ) as r:
            await r.read()
            self.outcomes[f"{due.action}:{r.status}"] += 1
        due.done = True  # a refusal (the case moved on meanwhile) is not retried

    async def _queue(self, department: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.tokens[department]}"}
        async with self.session.get(
            f"{self.api}/departments/{department}/queue", headers=headers
        ) as response:
            if response.status != 200:
                self.outcomes[f"queue:{response.status}"] += 1
                return []
            return list((await response.json())["items"])
