"""The after-action summary opened while PostgreSQL is down, in headless Chromium against the real API.

A review stopped PostgreSQL under a running system and opened /reports: the page stayed blank, said nothing and
was still blank 20 s after PostgreSQL was back (the failed load was an unhandled rejection). Here the stack runs on
a PostgreSQL of its own that the test really stops and starts again. Screenshots under
test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.embedded.postgres_server import PostgresServer
from tests.browser.conftest import Stack, running_stack
from tests.browser.test_board_pages import post, ready, sign_in
from tests.support.waiting import wait_until_async

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
BACK_MS = (
    45_000  # after PostgreSQL is back: a page tries again 2 s after a failure, then less often, 30 s at most
)
DATABASE_DOWN = "the database (PostgreSQL) cannot be reached right now"


@asynccontextmanager
async def stack_on_own_postgres(
    nats_url: str, tmp_path: Path, stream: str
) -> AsyncIterator[tuple[Stack, PostgresServer]]:
    """The API and the projector on a PostgreSQL of this test's own, to stop and start again (`back_up`)."""
    postgres = await asyncio.to_thread(PostgresServer(tmp_path / "pg").start)
    try:
        async with running_stack(nats_url, postgres.dsn, stream) as stack:
            try:
                yield stack, postgres
            finally:
                await back_up(stack, postgres)  # the API and the projector stop cleanly with it up
    finally:
        await asyncio.to_thread(postgres.stop)


async def back_up(stack: Stack, postgres: PostgresServer) -> None:
    """PostgreSQL started again, and the projector with it, as `levee up`'s supervisor restarts it: it exits when
    PostgreSQL goes away (docs/operations.md, section 3)."""
    from projections.app import run as run_projector

    if postgres.exited():
        await asyncio.to_thread(postgres.start)
    assert stack.projector is not None
    if stack.projector.done():
        with suppress(Exception):
            stack.projector.result()  # its exit when PostgreSQL went away
        stack.projector = asyncio.create_task(run_projector(stack.settings, stack.stop_projector))


async def incidents_listed(stack: Stack, token: str, title: str) -> None:
    """The incident is in the read models: what the page shows once PostgreSQL is back."""

    async def listed() -> bool:
        async with (
            aiohttp.ClientSession(stack.url) as http,
            http.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}) as answer,
        ):
            return answer.status == 200 and title in {i["title"] for i in (await answer.json())["items"]}

    await wait_until_async(listed, f"incident {title!r} in the read models")


async def test_the_summary_opened_in_a_database_outage_says_so_and_fills_itself_in_once_it_is_back(
    nats_url: str, tmp_path: Path, stream_spec: Any, browser: Any, shots: Path
) -> None:
    async with stack_on_own_postgres(nats_url, tmp_path, stream_spec.name) as (stack, postgres):
        command = await stack.token("command")
        await ready(stack, command)  # the token is checked now: the API lets it in while PostgreSQL is away
        await post(stack, "/api/v1/incidents", {
            "title": "Flooding in Riverside", "kind": "flooding", "districts": ["riverside"]}, command)  # fmt: skip
        await incidents_listed(stack, command, "Flooding in Riverside")

        await asyncio.to_thread(postgres.stop)
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        await sign_in(page, f"{stack.url}/reports", command)
        incidents, summary = page.locator("#incidents-message"), page.locator("#message")
        await expect(incidents).to_contain_text("读取失败 Incidents not loaded", timeout=BOUND_MS)
        await expect(incidents).to_contain_text(DATABASE_DOWN)
        await expect(incidents).to_contain_text(
            "5秒后自动重试 trying again by itself in 5 s"
        )  # as the 503 asks
        await expect(summary).to_contain_text("读取失败 Summary not loaded", timeout=BOUND_MS)
        await expect(summary).to_contain_text("数据库（PostgreSQL）暂时无法连接")
        await page.screenshot(path=shots / "01-database-down.png", full_page=True)

        await back_up(stack, postgres)
        await expect(page.locator("#incident option", has_text="Flooding in Riverside")).to_be_attached(
            timeout=BACK_MS
        )
        await expect(page.locator("#totals tr[data-metric=received]")).to_be_attached(timeout=BACK_MS)
        await expect(incidents).to_be_empty()
        await expect(summary).to_be_empty()
        shown, figures = page.locator("#shown"), page.locator("#figures")
        await expect(shown).to_contain_text("显示 Showing: 全部 all complaints")
        await page.screenshot(path=shots / "02-back-by-itself.png", full_page=True)

        # Another incident chosen while it is down again: the figures left up are said to be the last scope's
        # (found by a review: they stood under the error as if they were the incident's).
        await asyncio.to_thread(postgres.stop)
        await page.locator("#incident").select_option(label="Flooding in Riverside（调查中 investigating）")
        await page.get_by_role("button", name="刷新 Show").click()
        await expect(summary).to_contain_text("读取失败 Summary not loaded", timeout=BOUND_MS)
        await expect(shown).to_contain_text("Still showing 全部 all complaints, not the incident chosen")
        await expect(figures).to_have_class("grid stale")
        await page.screenshot(path=shots / "03-other-scope-down.png", full_page=True)
        await back_up(stack, postgres)
        await expect(shown).to_contain_text("显示 Showing: Flooding in Riverside", timeout=BACK_MS)
        await expect(figures).to_have_class("grid")
        await page.close()
