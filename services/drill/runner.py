"""Drive a scenario against a running Levee through its public API, at a steady rate, and count outcomes.

Every run has its own id, part of each Idempotency-Key: the seed makes a drill's *content* reproducible,
while a second run with the same seed must record new complaints, not replay the first run's answers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from services.drill.scenario import Submission

log = structlog.get_logger(__name__)


@dataclass
class DrillReport:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    run_id: str = ""
    replayed: int = 0  # answered "Idempotent-Replayed": an earlier complaint, not a new one
    retried: Counter[str] = field(default_factory=Counter)  # tries answered 503 (or not at all), sent again
    given_up: int = 0  # submissions with no answer but 503s and errors after every retry
    accepted_at: list[float] = field(default_factory=list)  # seconds into the drill of each 201
    # complaint id -> its submission's key in the scenario (the same for a seed in every run): the simulated
    # staff draw what they do with a case from it, so a seed plays each case the same way.
    case_keys: dict[str, str] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        created = self.statuses.get(201, 0)
        return {
            "run": self.run_id,
            "sent": self.sent,
            "created": created,
            "replayed": self.replayed,
            "retried": dict(self.retried),
            "given_up": self.given_up,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "created_per_second": round(created / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms_p50": round(self.percentile(0.50) * 1000, 1),
            "latency_ms_p99": round(self.percentile(0.99) * 1000, 1),
            "elapsed_s": round(self.elapsed, 1),
        }


async def run_drill(
    base_url: str,
    plan: Iterable[Submission],
    *,
    operator_token: str | None = None,
    concurrency: int = 256,
    timeout: float = 10.0,
    run_id: str | None = None,
    retries: int = 0,
    report: DrillReport | None = None,
) -> DrillReport:
    """POST every submission at its time (relative to now); never more than `concurrency` in flight.

    With `retries`, a submission answered 503 (or not at all) is sent again with its Idempotency-Key, as an app
    does, after the answer's Retry-After (at most RETRY_WAIT_MAX seconds): stored once, whatever was lost.
    `statuses` counts each submission's last answer, `retried` the tries sent again."""
    report = report or DrillReport()
    report.run_id = run_id or report.run_id or uuid.uuid4().hex[:12]
    gate = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/api/v1/complaints"
    started = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:

        async def submit(item: Submission) -> None:
            body = dict(item.body)
            headers = {"Idempotency-Key": f"{item.idempotency_key}-{report.run_id}"}
            if operator_token:
                # A drill plays thousands of callers from one address: as the public it would be throttled
                # like one citizen (429), so it records every call as the operator desk.
                headers["Authorization"] = f"Bearer {operator_token}"
            else:
                body.pop("media_exposure", None)  # only an operator may record media exposure
                if body.get("channel") not in ("web", "app"):
                    body["channel"] = "web"  # the public submits through the web form or the app
            begun = time.perf_counter()
            try:
                for tries_left in range(retries, -1, -1):
                    outcome, wait = await _post(session, url, body, headers, report, item.idempotency_key)
                    if outcome == "201":
                        report.latencies.append(time.perf_counter() - begun)
                        report.accepted_at.append(time.monotonic() - started)
                    if wait is None or not tries_left:
                        break
                    report.retried[outcome] += 1
                    await asyncio.sleep(wait)  # the server's Retry-After: a pause it asked for, bounded
                report.given_up += wait is not None  # still a 503 or no answer with no try left
                if outcome.isdigit():
                    report.statuses[int(outcome)] += 1
                else:
                    report.errors[outcome] += 1
            finally:
                gate.release()

        for item in plan:
            delay = started + item.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing to the schedule, not waiting for a condition
            await gate.acquire()
            report.sent += 1
            task = asyncio.create_task(submit(item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    report.elapsed = time.monotonic() - started
    log.info("drill_finished", **report.summary())
    return report


RETRY_WAIT_MAX = (
    2.0  # seconds: a drill waits no longer than this between two tries, whatever Retry-After says
)
RETRY_WAIT_NO_ANSWER = 0.5  # seconds before sending again a try that got no answer at all


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    report: DrillReport,
    case_key: str,
) -> tuple[str, float | None]:
    """One try: its outcome (the status, or the error's name) and how long to wait before the next try (None:
    this answer is final)."""
    try:
        async with session.post(url, json=body, headers=headers) as response:
            payload = await response.json(content_type=None)
            if response.status == 201:
                report.replayed += response.headers.get("Idempotent-Replayed") == "true"
                report.accepted_ids.append(str(payload.get("id")))
                report.case_keys[str(payload.get("id"))] = case_key
                return "201", None
            if response.status != 503:
                return str(response.status), None
            try:
                wait = float(response.headers.get("Retry-After", RETRY_WAIT_NO_ANSWER))
            except ValueError:
                wait = RETRY_WAIT_NO_ANSWER
            return "503", min(max(wait, 0.1), RETRY_WAIT_MAX)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__, RETRY_WAIT_NO_ANSWER
