"""The department page when its actions are refused, its dependencies fail or the API hangs, in headless Chromium
against the real API and projector.

A review froze NATS and PostgreSQL under a running system: a refusal said "409: Only a dispatched complaint can be
accepted" without saying what the case is now, an outage read as raw English, a failure from an hour before looked
current, a stalled projector left "connected · live" over a stale queue, and a hung API froze the page for good.
Answers the real server gives only in a race or an outage are the page's input, given with page.route; the server
stays real. Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack, problem
from tests.browser.test_board_pages import post, ready, sign_in
from tests.browser.test_reports_outage import DATABASE_DOWN, back_up, stack_on_own_postgres
from tests.support.waiting import wait_until

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
STAMPED = re.compile(r"^\d\d:\d\d ")  # a failure says when it happened
QUEUE = "/api/v1/departments/power/queue"


async def dispatched_to_power(stack: Stack, nc: Any) -> Complaint:
    """One case waiting for the Power Supply Bureau to sign for it, as dispatch leaves it."""
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    now = datetime.now(UTC)
    case = Complaint.receive(
        channel="hotline", description="停电 no power on Hill Road", received_by="hotline"
    )
    case.validate()
    case.assess_priority(55, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1))
    case.dispatch("power", by="dispatch", reason="power outage")
    await repository.save(case)
    return case


async def desk(stack: Stack, browser: Any, **context: Any) -> Any:
    """A page for the power desk, once the API serves the read models."""
    await ready(stack, await stack.token("command"))
    return await browser.new_page(viewport={"width": 1400, "height": 900}, **context)


async def test_a_refused_action_says_in_words_what_the_case_is_now(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    power, colleague = await stack.token("department:power"), await stack.token("department:power")
    case = await dispatched_to_power(stack, nc)
    page = await desk(stack, browser)
    await sign_in(page, f"{stack.url}/department", power)
    row = page.locator(f"#queue tr[data-id='{case.id}']")
    await expect(row.locator("[data-action=accept]")).to_be_visible(timeout=BOUND_MS)
    message = page.locator("#action-said")  # what the action form's submit came to, said beside it

    # A colleague signs for it just before this desk does: the real API refuses, with the case as it is now.
    async def colleague_first(route: Any) -> None:
        await post(stack, f"/api/v1/complaints/{case.id}/accept", {}, colleague)
        await route.continue_()

    await page.route(f"**/api/v1/complaints/{case.id}/accept", colleague_first)
    await row.locator("[data-action=accept]").click()
    at_row = row.get_by_role("status")  # a row's action is said at the row; the form's, beside the form
    await expect(at_row).to_contain_text("只有待签收的工单才能签收", timeout=BOUND_MS)
    await expect(at_row).to_contain_text("现为：已签收（供电局） now: accepted, with Power Supply Bureau")
    await expect(at_row).to_have_text(STAMPED)
    await page.screenshot(path=shots / "01-refused-now-accepted.png")

    # A colleague re-dispatched it while this desk resolved it (409 moved_meanwhile).
    await expect(row.locator("[data-action=resolve]")).to_be_visible(timeout=BOUND_MS)  # the queue caught up
    await page.route(f"**/api/v1/complaints/{case.id}/resolve", lambda route: route.fulfill(**problem(
        409, "moved_meanwhile", "While you acted, a colleague moved the complaint on (re-dispatched or returned it): "
        "it is no longer your department's, and nothing of yours was stored. Reload your queue.")))  # fmt: skip
    await row.locator("[data-action=resolve]").click()
    await page.get_by_label("What was done").fill("Fuse replaced at the substation")
    await page.get_by_role("button", name="提交 Submit").click()
    await expect(message).to_contain_text(
        "同事已将此工单改派或退回，您的操作未保存；请刷新工单列表", timeout=BOUND_MS
    )
    await expect(message).to_contain_text("a colleague moved the case on (re-dispatched or returned it): nothing of "
                                          "yours was stored; reload the queue (409)")  # fmt: skip
    await page.screenshot(path=shots / "02-moved-meanwhile.png")

    # NATS away: which service, in both languages, and when to try again (Retry-After), not "503: NATS: ...".
    await page.route(f"**/api/v1/complaints/{case.id}/progress", lambda route: route.fulfill(**problem(
        503, "dependency_unavailable", "NATS: no connection", dependency="NATS")))  # fmt: skip
    await page.get_by_role("button", name="取消 Cancel").click()
    await row.locator("[data-action=progress]").click()
    await page.get_by_label("Progress (staff only)").fill("Crew on the way")
    await page.get_by_role("button", name="提交 Submit").click()
    await expect(message).to_contain_text("事件库（NATS）暂时无法连接，请5秒后再试", timeout=BOUND_MS)
    await expect(message).to_contain_text(
        "the event store (NATS) cannot be reached right now; try again in 5 s (503)"
    )
    await expect(message).not_to_contain_text("no connection")
    await page.screenshot(path=shots / "03-event-store-away.png")
    await page.close()


async def test_the_queue_says_when_it_was_read_and_how_far_behind_it_runs(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    """In the city's time whatever the PC's zone, refetched every 15 s though no change comes, and saying when the
    read models run behind (the lateness the board shows)."""
    power = await stack.token("department:power")
    case = await dispatched_to_power(stack, nc)
    page = await desk(stack, browser, timezone_id="America/New_York")
    await page.clock.install()
    read: list[str] = []

    async def queue(route: Any) -> None:
        read.append(route.request.url)
        answer = await route.fetch()
        body = await answer.json()
        body["lateness"] = {"read_models": {"events": 4200, "seconds": 42.0, "late": True},
                            "dispatch": {"events": 0, "seconds": 0.0, "late": False}}  # fmt: skip
        await route.fulfill(response=answer, json=body)

    await page.route("**/api/v1/departments/power/queue", queue)
    before = datetime.now(ZoneInfo("Asia/Shanghai"))
    await sign_in(page, f"{stack.url}/department", power)
    await expect(page.locator(f"#queue tr[data-id='{case.id}']")).to_be_visible(timeout=BOUND_MS)
    after = datetime.now(ZoneInfo("Asia/Shanghai"))
    asof = page.locator("#asof")
    await expect(asof).to_have_text(re.compile(
        rf"^数据时间 as of ({before:%H:%M}|{after:%H:%M})$"))  # fmt: skip
    await expect(page.locator("#zone")).to_have_text(re.compile(r"^时区 time zone: Asia/Shanghai"))
    late = page.locator("#late")
    await expect(late).to_be_visible()
    await expect(late).to_contain_text("工单列表落后42秒 the queue running behind 42 s")
    await expect(late).to_contain_text("changes from the last 42 s may be missing")
    await page.screenshot(path=shots / "01-as-of-and-behind.png")

    # Nothing changes in the city: the page reads its queue again all the same (a stalled projector sends nothing),
    # every 15 s (twice: a live change's delayed refetch, fired by the clock too, accounts for one at most).
    first = len(read)
    await page.clock.fast_forward(15_000)
    await page.clock.fast_forward(15_000)
    await wait_until(lambda: len(read) >= first + 2, "the queue read again twice without a change")
    await page.unroute_all(behavior="ignoreErrors")  # a refetch may be on its way as the page closes
    await page.close()


async def test_a_hung_api_is_given_up_on_and_the_queue_comes_back_by_itself(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    """The API takes the request and never answers: after 20 s the page says so, the as-of time shows its age, and
    once the API answers again the 15 s refetch brings the queue back (it was stuck waiting for good)."""
    power = await stack.token("department:power")
    case = await dispatched_to_power(stack, nc)
    page = await desk(stack, browser)
    await page.clock.install()
    await sign_in(page, f"{stack.url}/department", power)
    await expect(page.locator(f"#queue tr[data-id='{case.id}']")).to_be_visible(timeout=BOUND_MS)

    released = asyncio.Event()
    hung: list[Any] = []
    reading: set[Any] = set()  # the queue reads on their way
    page.on("request", lambda r: reading.add(r) if r.url.endswith(QUEUE) else None)
    page.on("requestfinished", lambda r: reading.discard(r))
    page.on("requestfailed", lambda r: reading.discard(r))

    async def hang(route: Any) -> None:
        hung.append(route)
        await released.wait()
        with suppress(Exception):  # the page gave up on it long ago
            await route.abort()

    await page.route(f"**{QUEUE}", hang)
    # A read sent before the route (a live change's) answering after the clock jumped would count as fresh.
    await wait_until(lambda: len(reading) <= len(hung), "the reads sent before the API hung")
    async with page.expect_response("**/api/v1/departments/power/incidents"):  # that one answers
        await page.clock.fast_forward(15_000)  # the refetch: the queue hangs
    await wait_until(lambda: hung, "the 15 s refetch")
    await page.clock.fast_forward(20_000)  # no answer in 20 s
    message = page.locator("#message")
    await expect(message).to_contain_text(
        "读取失败 Queue not loaded: 服务器20秒内没有回答，请稍后再试 the server did not answer within 20 s",
        timeout=BOUND_MS,
    )
    # Past 45 s since the last answer, however late in the real seconds before the hang that answer came (a
    # slow machine left 44 s once: the page is right, the margin was not).
    await page.clock.fast_forward(30_000)
    await expect(page.locator("#asof")).to_contain_text("not updated for", timeout=BOUND_MS)
    await page.screenshot(path=shots / "01-no-answer.png")

    await page.unroute(f"**{QUEUE}")
    released.set()
    await page.clock.fast_forward(15_000)  # the next refetch is not stuck behind the hung one
    await expect(message).to_be_empty(timeout=BOUND_MS)
    await expect(page.locator("#asof")).not_to_contain_text("not updated for", timeout=BOUND_MS)
    await page.screenshot(path=shots / "02-back.png")
    await page.close()


async def test_a_queue_not_read_in_a_database_outage_says_both_reads_failed_and_which_queue_is_shown(
    nats_url: str, tmp_path: Path, stream_spec: Any, browser: Any, shots: Path, nc: Any
) -> None:
    """ "Incidents not loaded" overwrote "Queue not loaded", and the queue read before the outage kept counting
    down under a message about incidents only (found by a review that stopped PostgreSQL)."""
    async with stack_on_own_postgres(nats_url, tmp_path, stream_spec.name) as (stack, postgres):
        power = await stack.token("department:power")
        page = await desk(stack, browser)  # the stream is there once the API answers
        case = await dispatched_to_power(stack, nc)
        await page.clock.install()
        await sign_in(page, f"{stack.url}/department", power)
        row = page.locator(f"#queue tr[data-id='{case.id}']")
        await expect(row).to_be_visible(timeout=BOUND_MS)

        await asyncio.to_thread(postgres.stop)
        await page.clock.fast_forward(15_000)  # the next refetch
        message = page.locator("#message")
        await expect(message).to_contain_text("读取失败 Queue not loaded", timeout=BOUND_MS)
        await expect(message).to_contain_text("读取失败 Incidents not loaded")
        await expect(message).to_contain_text(DATABASE_DOWN)
        await expect(message).to_contain_text(re.compile(r"the queue below is as of \d\d:\d\d"))
        # The page reads again by itself every 15 s: it does not ask the reader to try again in 5 s.
        await expect(message).to_contain_text("read again by itself within 15 s")
        await expect(message).not_to_contain_text("try again in")
        await expect(row).to_be_visible()  # the queue read before stays, said to be that one
        await page.screenshot(path=shots / "01-database-down.png")

        await back_up(stack, postgres)
        await page.clock.fast_forward(15_000)
        await expect(message).to_be_empty(timeout=BOUND_MS)
        await expect(row).to_be_visible()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=BOUND_MS)
        await page.screenshot(path=shots / "02-back-by-itself.png")
        await page.close()
