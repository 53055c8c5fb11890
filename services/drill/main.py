"""`levee drill`: a scenario's complaints through the API, recorded as a hotline desk, with simulated staff.

A drill needs staff tokens: as the public it would be one caller throttled per address (429s), could not
record media exposure or phone calls, and nobody would act on the cases. Unless given `--operator-token`
(or `--public`), it mints its own drill tokens through the token store the CLI opens on the running
`levee up`'s database (or DATABASE_URL): an operator desk, and with staff (the default; `--no-staff` when
people play them) one desk per department and a command desk. Only their hashes are stored, and they are revoked
when the drill ends. After the last complaint the staff desks work on (`--staff-tail`): what a department
signed for in the last minute is resolved and followed up too, not dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from events.reference import load_reference
from services.drill.runner import DrillReport, run_drill
from services.drill.scenario import load_scenario, submissions
from services.drill.staff import StaffDesks, StaffPlan

log = structlog.get_logger(__name__)


class _Minted(Protocol):
    @property
    def token_id(self) -> str: ...


class TokenMinter(Protocol):
    """What the drill needs of the API's token store (the CLI passes a `TokenStore`)."""

    async def create(self, role: str, name: str) -> tuple[str, _Minted]: ...

    async def revoke(self, token_id: str) -> bool: ...


@dataclass(frozen=True)
class DrillOptions:
    scenario: str
    rate: float = 50.0
    duration: float = 60.0
    seed: int = 1
    operator_token: str | None = None
    public: bool = False  # submit as the public (rate-limited per address, web and app channels only)
    staff: bool = True
    concurrency: int = 256
    retries: int = 3  # a 503 (or no answer) is sent again with its Idempotency-Key, as an app does
    staff_tail: float = 120.0  # seconds the desks may work on after the last complaint (see `drill`)

    @property
    def needs_tokens(self) -> bool:
        return self.staff or not (self.public or self.operator_token)


@dataclass
class DrillTokens:
    operator: str | None = None  # records the calls (unless --public) and makes the follow-up calls
    command: str | None = None
    departments: dict[str, str] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def drill_tokens(
    minter: TokenMinter, options: DrillOptions, run_id: str, departments: Sequence[str]
) -> AsyncIterator[DrillTokens]:
    """The tokens this run needs and was not given; revoked on the way out, however the drill ends."""
    minted: list[str] = []

    async def mint(role: str, holder: str) -> str:
        token, record = await minter.create(role, f"drill {run_id}: {holder}")
        minted.append(record.token_id)
        return token

    tokens = DrillTokens(operator=options.operator_token)
    try:
        if tokens.operator is None:
            tokens.operator = await mint("operator", "hotline desk")
        if options.staff:
            tokens.command = await mint("command", "command desk")
            for code in departments:
                tokens.departments[code] = await mint(f"department:{code}", f"{code} desk")
        yield tokens
    finally:
        for token_id in minted:
            await minter.revoke(token_id)


async def drill(base_url: str, options: DrillOptions, minter: TokenMinter | None) -> dict[str, Any]:
    """Run the drill; its summary (counts by status, and with staff their actions by kind and status)."""
    run_id = uuid.uuid4().hex[:12]
    scenario = load_scenario(options.scenario)
    plan = submissions(scenario, seed=options.seed, rate=options.rate, duration=options.duration)
    log.info("drill_starting", scenario=scenario.name, rate=options.rate, duration=options.duration,
             seed=options.seed, run=run_id, staff=options.staff, public=options.public)  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        tokens = DrillTokens(operator=options.operator_token)
        if options.needs_tokens:
            if minter is None:
                raise ValueError("this drill needs a token store to mint its drill tokens")
            departments = [d.code for d in load_reference().departments]
            tokens = await stack.enter_async_context(drill_tokens(minter, options, run_id, departments))
        report = DrillReport(run_id=run_id)  # filled as the drill goes: the staff desks read its case keys
        staff_stop = asyncio.Event()
        staff: asyncio.Task[Any] | None = None
        if options.staff:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            desks = StaffDesks(session, base_url, tokens.departments, StaffPlan(), seed=options.seed,
                               operator_token=tokens.operator, command_token=tokens.command,
                               case_key=lambda case: report.case_keys.get(case, case))  # fmt: skip
            staff = asyncio.create_task(desks.run(staff_stop))
        try:
            await run_drill(
                base_url, plan, operator_token=None if options.public else tokens.operator,
                concurrency=options.concurrency, run_id=run_id, retries=options.retries, report=report,
            )  # fmt: skip
            if staff is not None:
                await _tail(desks, options.staff_tail)
        finally:
            staff_stop.set()
            actions = dict(sorted((await staff).items())) if staff is not None else None
    summary = report.summary()
    if actions is not None:
        summary["staff"] = actions
    return summary


QUIET_SECONDS = 20.0  # the desks have had nothing to do for this long: the drill's work is done (a lag of a few s)


async def _tail(desks: StaffDesks, bound: float) -> None:
    """Let the desks finish the drill's cases: until nothing has been due for QUIET_SECONDS (the last cases
    dispatched, signed for, resolved and followed up), at most `bound` seconds."""
    loop = asyncio.get_running_loop()
    ends, quiet_since = loop.time() + bound, loop.time()
    while (now := loop.time()) < ends and now - quiet_since < QUIET_SECONDS:
        if not desks.settled():
            quiet_since = now
        await asyncio.sleep(desks.plan.poll)  # the desks' own pace: they look at their queues this often
    log.info(
        "drill_staff_done",
        tail_seconds=round(bound - max(0.0, ends - loop.time()), 1),
        settled=desks.settled(),
    )
