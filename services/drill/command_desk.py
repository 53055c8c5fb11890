"""The drill's command desk: command staff moving what nobody else can, and nothing else.

Two kinds of work wait for command: cases in the command queue (every candidate department returned them,
or there was no route) and extension requests. The desk looks at both through the API as a person's screen
would (GET /departments/command/queue, GET /complaints?extension_pending=true), and after a seeded delay
re-dispatches a case to a department that has not returned it, or grants or denies the pending request.
Each case is acted on once per round: per arrival in the queue (its return count) and per request (the
ExtensionRequested event's version), so a read model that lags never makes it act twice.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import structlog

from events.reference import COMMAND_QUEUE, Reference

if TYPE_CHECKING:
    from services.drill.staff import StaffPlan

log = structlog.get_logger(__name__)

Get = Callable[[str, str], Awaitable[Any]]  # (path under /api/v1, what it is counted as) -> JSON or None
# (seconds from now, case, action after /complaints/{id}/, kind counted, body): a command desk action
Schedule = Callable[[float, str, str, str, dict[str, Any]], None]
DECISIONS = ("ExtensionGranted", "ExtensionDenied")
PAGES = 5  # pending requests read per look: at most PAGES x 200


def choose_department(
    category: str | None, returned_by: Sequence[str], reference: Reference, fallbacks: Sequence[str]
) -> str | None:
    """Who command sends a case to: the category's usual department, else the fallbacks in order (civil
    affairs coordinates what no one else owns), never one that returned it (the API refuses that). None
    when all of them returned it: the desk leaves it to real command staff."""
    known = {d.code for d in reference.departments}
    usual = [c.default_department for c in reference.categories if c.code == category]
    for department in (*usual, *fallbacks):
        if department in known and department not in returned_by:
            return department
    return None


class CommandDesk:
    def __init__(self, plan: StaffPlan, *, rng: Callable[[str, str], random.Random], reference: Reference,
                 get: Get, schedule: Schedule, outcomes: Counter[str]) -> None:  # fmt: skip
        self.plan = plan
        self.rng = (
            rng  # a case's own draws for one step (StaffDesks.rng): the same for a seed, whatever the timing
        )
        self.reference = reference
        self.get, self.schedule, self.outcomes = get, schedule, outcomes
        self.rounds: set[tuple[str, str, int]] = set()  # (case, "route" | "decide", round)
        self._deciding: set[str] = set()  # a decision planned, not yet sent: no need to read the case again

    async def look(self) -> None:
        await self._command_queue()
        await self._pending_extensions()

    def acted(self, case: str) -> None:
        """A decision was sent (whatever the answer): a later request on the case is a new round."""
        self._deciding.discard(case)

    async def _command_queue(self) -> None:
        queue = await self.get(f"/departments/{COMMAND_QUEUE}/queue", "queue")
        for item in queue["items"] if queue else ():
            case, arrival = str(item["id"]), int(item.get("return_count") or 0)
            if item["status"] != "dispatched" or (case, "route", arrival) in self.rounds:
                continue
            detail = await self.get(f"/complaints/{case}", "command_read")
            if detail is None:
                continue  # read again at the next look
            self.rounds.add((case, "route", arrival))
            self._plan_dispatch(case, item.get("category"), detail["timeline"])

    def _plan_dispatch(self, case: str, category: str | None, timeline: Sequence[Mapping[str, Any]]) -> None:
        returned = [str(e["department"]) for e in timeline if e["kind"] == "DispatchReturned"]
        department = choose_department(category, returned, self.reference, self.plan.command_fallbacks)
        if department is None:
            self.outcomes["command_dispatch:no_department_left"] += 1
            log.info("drill_command_left_case", case=case, returned_by=returned)
            return
        why = (
            f"returned by {', '.join(returned)}" if returned else f"no route for {category or 'no category'}"
        )
        body = {"department": department, "reason": f"Command decides: {department} takes it ({why}) (drill)"}
        draws = self.rng(case, f"command_dispatch:{len(returned)}")
        self.schedule(draws.uniform(*self.plan.command_dispatch_after), case, "dispatch", "command_dispatch",
                      body)  # fmt: skip

    async def _pending_extensions(self) -> None:
        cursor: str | None = None
        for _ in range(PAGES):
            query = "extension_pending=true&limit=200" + (f"&cursor={quote(cursor)}" if cursor else "")
            page = await self.get(f"/complaints?{query}", "extension_list")
            if page is None:
                return
            for item in page["items"]:
                if str(item["id"]) not in self._deciding:
                    await self._consider_request(str(item["id"]))
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def _consider_request(self, case: str) -> None:
        detail = await self.get(f"/complaints/{case}", "command_read")
        if detail is None:
            return
        timeline = detail["timeline"]
        asked = [e for e in timeline if e["kind"] == "ExtensionRequested"]
        if not asked or (case, "decide", int(asked[-1]["version"])) in self.rounds:
            return
        request = asked[-1]
        if any(e["kind"] in DECISIONS and e["version"] > request["version"] for e in timeline):
            return  # already decided; the list has not caught up yet
        self.rounds.add((case, "decide", int(request["version"])))
        self._deciding.add(case)
        draws = self.rng(case, f"decide:{request['version']}")
        after = draws.uniform(*self.plan.decide_after)
        if draws.random() < self.plan.grant_share:
            minutes = int(request["detail"].get("minutes") or 60)
            self.schedule(after, case, "extension-requests/grant", "extension_grant", {"minutes": minutes})
        else:
            reason = "Crews are needed elsewhere first (drill)"
            self.schedule(after, case, "extension-requests/deny", "extension_deny", {"reason": reason})
