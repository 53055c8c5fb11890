"""Simulated staff for a drill, acting through the same HTTP API as people do, after realistic (seeded,
scalable) delays: department desks sign for or return what reaches their queue, note progress, ask for more
time and resolve; a command desk (command_desk.py) re-dispatches what lands in the command queue and decides
extension requests; an operator makes the follow-up calls.

The desks learn about work by polling each department's queue (GET /departments/{code}/queue). A case is
acted on once per *round*: a sign-for round per (department, returns so far), so the department a returned
case is re-dispatched to signs for it too (and a second return sends it to command); a handling round per
(department, reopenings so far), so a case reopened after an unhappy follow-up call is handled again.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from events.reference import Reference, load_reference
from services.drill.command_desk import CommandDesk

log = structlog.get_logger(__name__)

OPERATOR, COMMAND = "operator", "command"  # the desks that are not departments
FOLLOW_UPS = (("satisfied", 0.6), ("partly_satisfied", 0.15), ("not_satisfied", 0.15), ("not_reached", 0.1))
NOTES = {
    False: "Crew briefed; materials ordered and the site supervisor called (drill)",
    True: "A crew is on the way and expected on site within the hour (drill)",
}


@dataclass(frozen=True)
class StaffPlan:
    """Seconds between steps, and how often each kind of action happens. A drill compresses hours into
    minutes: a newcomer sees every kind of action on the board within a minute or two."""

    accept_after: tuple[float, float] = (3.0, 30.0)  # a case reaching a queue -> its sign-for (or return)
    resolve_after: tuple[float, float] = (15.0, 90.0)  # sign-for (or reopening) -> resolution
    return_share: float = 0.08  # wrong department: sent back with a reason
    note_share: float = 0.6  # a progress note while handling...
    public_note_share: float = 0.4  # ...shown to the complainant
    extension_share: float = 0.1  # asks command for more time (only when a command desk plays)
    grant_share: float = 0.75
    decide_after: tuple[float, float] = (5.0, 30.0)  # command sees an extension request -> its decision
    # A case reaches the command queue -> command re-dispatches it.
    command_dispatch_after: tuple[float, float] = (5.0, 40.0)
    # Where command sends a case whose usual department returned it, in order (never one that returned it).
    command_fallbacks: tuple[str, ...] = ("civil_affairs", "hotline_office")
    follow_up_after: tuple[float, float] = (10.0, 45.0)  # resolution (or a call nobody answered) -> a call
    follow_ups: tuple[tuple[str, float], ...] = FOLLOW_UPS  # outcome, weight; not satisfied reopens the case
    follow_up_calls: int = 3  # calls that reach nobody before the operator gives up
    poll: float = 1.0


@dataclass(order=True)
class _Due:
    when: float
    order: int  # ties keep the order they were planned in (a note before the resolution it precedes)
    case: str = field(compare=False)
    desk: str = field(compare=False)  # a department code, OPERATOR or COMMAND
    action: str = field(compare=False)  # the command's path after /complaints/{id}/
    kind: str = field(compare=False)  # what the outcome is counted as
    body: dict[str, Any] = field(compare=False)
    call: int = field(default=0, compare=False)  # follow-up calls made before this one


class StaffDesks:
    """One desk per department token, plus the operator's and command's desks when given their tokens."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        tokens: Mapping[str, str],
        plan: StaffPlan,
        *,
        seed: int,
        operator_token: str | None = None,
        command_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        reference: Reference | None = None,
        case_key: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        self.api = base_url.rstrip("/") + "/api/v1"
        self.tokens = dict(tokens)
        self.desks = {**self.tokens, **_present(OPERATOR, operator_token), **_present(COMMAND, command_token)}
        self.plan = plan
        self.seed = seed
        # What a desk does with a case is drawn from the seed and the case's key in the scenario (its submission,
        # the same in every run of the seed), never from one stream shared in the order cases show up in queues
        # (which timing decides): a seed plays each case the same way, whatever the timing.
        self.case_key = case_key or (lambda case: case)
        self.clock = clock
        self.due: list[_Due] = []  # a heap: the earliest first
        # Cases waiting for command's decision on more time: (department, seconds from decision to resolution).
        self._after_decision: dict[str, tuple[str, float]] = {}
        self.rounds: set[tuple[str, str, str, int]] = set()  # (case, "sign" | "handle", department, round)
        self.outcomes: Counter[str] = Counter()
        self._planned = 0
        self._follow_ups: dict[str, int] = {}  # follow-up calls planned per case (a reopened case gets more)
        self.command = (
            CommandDesk(plan, rng=self.rng, reference=reference or load_reference(), get=self._command_get,
                        schedule=self._plan_command, outcomes=self.outcomes)
            if COMMAND in self.desks else None
        )  # fmt: skip

    def rng(self, case: str, step: str) -> random.Random:
        """The draws for one step of one case (e.g. "sign:0", its first sign-for round)."""
        return random.Random(f"{self.seed}:{self.case_key(case)}:{step}")

    def settled(self) -> bool:
        """Nothing planned and no case waiting for command's decision."""
        return not self.due and not self._after_decision

    async def run(self, stop: asyncio.Event) -> Counter[str]:
        """Until `stop` is set: look at the queues and act, every `plan.poll` seconds."""
        while not stop.is_set():
            await self.step()
            try:
                await asyncio.wait_for(stop.wait(), self.plan.poll)
            except TimeoutError:
                pass
        return self.outcomes

    async def step(self) -> None:
        """Look at every queue, plan what is new, and do what has come due (in time order)."""
        for department in self.tokens:
            for item in await self._queue(department):
                self._notice(item, department)
        if self.command is not None:
            await self.command.look()
        now = self.clock()
        while self.due and self.due[0].when <= now:
            await self._act(heapq.heappop(self.due))

    # -- planning ----------------------------------------------------------------------------------------

    def _notice(self, item: Mapping[str, Any], department: str) -> None:
        case, status = str(item["id"]), item["status"]
        if status == "dispatched":
            if self._new_round(case, "sign", department, round_ := item.get("return_count") or 0):
                self._plan_sign_for(case, department, self.rng(case, f"sign:{round_}"))
        elif status in ("accepted", "reopened"):
            if self._new_round(case, "handle", department, round_ := item.get("reopen_count") or 0):
                self._plan_handling(case, department, self.rng(case, f"handle:{round_}"))

    def _new_round(self, case: str, step: str, department: str, count: int) -> bool:
        key = (case, step, department, int(count))
        if key in self.rounds:
            return False  # already planned; the queue shows a case until it moves on
        self.rounds.add(key)
        return True

    def _plan_sign_for(self, case: str, department: str, rng: random.Random) -> None:
        after = rng.uniform(*self.plan.accept_after)
        if rng.random() < self.plan.return_share:
            reason = "Not ours: this belongs to another department (drill)"
            self._plan(after, case, department, "return", "return", {"reason": reason})
        else:
            self._plan(after, case, department, "accept", "accept", {})

    def _plan_handling(self, case: str, department: str, rng: random.Random) -> None:
        took = rng.uniform(*self.plan.resolve_after)
        if rng.random() < self.plan.note_share:
            public = rng.random() < self.plan.public_note_share
            kind = "progress_public" if public else "progress_internal"
            body = {"text": NOTES[public], "public": public}
            self._plan(took * rng.uniform(0.2, 0.6), case, department, "progress", kind, body)
        if COMMAND in self.desks and rng.random() < self.plan.extension_share:
            body = {"minutes": rng.choice((60, 120, 240)), "reason": "Waiting for a repair crew (drill)"}
            ask = took * rng.uniform(0.3, 0.8)
            self._plan(ask, case, department, "extension-requests", "extension_request", body)
            # It asked for time because it cannot finish yet: it resolves only once command has decided (a
            # resolution first would leave command nothing to decide), however late the desks run.
            self._after_decision[case] = (department, max(1.0, took - ask))
            return
        self._plan_resolution(took, case, department)

    def _plan_resolution(self, after: float, case: str, department: str) -> None:
        summary = "Crew on site; fixed and checked with the residents (drill)"
        self._plan(after, case, department, "resolve", "resolve", {"summary": summary})

    def _plan_follow_up(self, case: str, call: int) -> None:
        outcomes, weights = zip(*self.plan.follow_ups, strict=True)
        rng = self.rng(case, f"follow_up:{call}:{self._follow_ups.get(case, 0)}")
        self._follow_ups[case] = self._follow_ups.get(case, 0) + 1
        outcome = rng.choices(outcomes, weights)[0]
        reason = {"not_satisfied": "Still no water at the tap (drill)", "not_reached": "No answer (drill)"}
        body = {"outcome": outcome, "reason": reason.get(outcome, "")}
        after = rng.uniform(*self.plan.follow_up_after)
        self._plan(after, case, OPERATOR, "follow-up-calls", f"follow_up_{outcome}", body, call=call)

    def _plan(
        self,
        after: float,
        case: str,
        desk: str,
        action: str,
        kind: str,
        body: dict[str, Any],
        *,
        call: int = 0,
    ) -> None:
        self._planned += 1
        heapq.heappush(
            self.due, _Due(self.clock() + after, self._planned, case, desk, action, kind, body, call)
        )

    def _plan_command(self, after: float, case: str, action: str, kind: str, body: dict[str, Any]) -> None:
        self._plan(after, case, COMMAND, action, kind, body)

    def _then(self, done: _Due) -> None:
        """What a successful action leads to: the asking desk's resolution, a follow-up call, another call.
        (Command's desk finds extension requests in the pending list, as it finds any other.)"""
        if done.action.startswith("extension-requests/") and done.case in self._after_decision:
            department, after = self._after_decision.pop(done.case)
            self._plan_resolution(after, done.case, department)
        elif done.action == "resolve" and OPERATOR in self.desks:
            self._plan_follow_up(done.case, call=0)
        elif done.kind == "follow_up_not_reached" and done.call + 1 < self.plan.follow_up_calls:
            self._plan_follow_up(done.case, call=done.call + 1)

    # -- acting ------------------------------------------------------------------------------------------

    async def _act(self, due: _Due) -> None:
        """One command; a refusal (the case moved on meanwhile) is counted, not retried."""
        if due.desk == COMMAND and self.command is not None:
            self.command.acted(due.case)
        headers = {"Authorization": f"Bearer {self.desks[due.desk]}"}
        url = f"{self.api}/complaints/{due.case}/{due.action}"
        try:
            async with self.session.post(url, json=due.body, headers=headers) as response:
                answer = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.outcomes[f"{due.kind}:{type(exc).__name__}"] += 1
            self._no_decision(due)
            return
        self.outcomes[f"{due.kind}:{status}"] += 1
        if status == 200:
            self._then(due)
            return
        log.info("drill_action_refused", kind=due.kind, case=due.case, status=status, answer=answer[:300])
        self._no_decision(due)

    def _no_decision(self, due: _Due) -> None:
        """An extension request or decision that failed: no decision is coming, so the desk finishes the work."""
        if due.action.startswith("extension-requests") and due.case in self._after_decision:
            department, after = self._after_decision.pop(due.case)
            self._plan_resolution(after, due.case, department)

    async def _queue(self, department: str) -> list[dict[str, Any]]:
        answer = await self._get(f"/departments/{department}/queue", self.tokens[department], "queue")
        return list(answer["items"]) if answer else []

    async def _command_get(self, path: str, kind: str) -> Any:
        return await self._get(path, self.desks[COMMAND], kind)

    async def _get(self, path: str, token: str, kind: str) -> Any:
        """A read's JSON; None (counted as `kind:status`) when it failed."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self.session.get(f"{self.api}{path}", headers=headers) as response:
                if response.status != 200:
                    self.outcomes[f"{kind}:{response.status}"] += 1
                    return None
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.outcomes[f"{kind}:{type(exc).__name__}"] += 1
            return None


def _present(desk: str, token: str | None) -> dict[str, str]:
    return {desk: token} if token else {}
