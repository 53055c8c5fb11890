"""The public status page in an outage and away from the city, in headless Chromium against the real API.

A citizen whose lookup fails is told their complaint is not lost: a failed fetch of the notices overwrote that
with the server's words. And the page showed times in the browser's zone, where the hotline and the staff pages
say the city's. The failing answers are the page's input (page.route). Screenshots under test-output/browser/.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.browser.conftest import Stack, problem
from tests.browser.test_board_pages import TRAPPED, post, ready

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 5_000


async def test_a_lookup_in_an_outage_keeps_its_reassurance_when_the_notices_fail_too(
    stack: Stack, browser: Any, shots: Path
) -> None:
    await ready(stack, await stack.token("command"))
    page = await browser.new_page(viewport={"width": 1000, "height": 900})
    down = problem(503, "dependency_unavailable", "PostgreSQL: connection refused", dependency="PostgreSQL")
    await page.route("**/api/v1/status/*", lambda route: route.fulfill(**down))
    await page.route("**/api/v1/notices", lambda route: route.fulfill(**down))
    await page.goto(f"{stack.url}/status/LV-7K3QX9")
    await expect(page.locator("#notices")).to_contain_text(
        "公告暂时无法加载，请稍后刷新。 The notices cannot be loaded right now; please reload later.",
        timeout=BOUND_MS,
    )
    message = page.locator("#message")
    await expect(message).to_contain_text("您的诉求不会丢失")
    await expect(message).to_contain_text("Your complaint is not lost.")
    await expect(page.locator("body")).not_to_contain_text("PostgreSQL")
    await page.screenshot(path=shots / "01-lookup-and-notices-down.png", full_page=True)
    await page.close()


async def test_the_status_page_gives_times_in_the_citys_zone_and_says_which(
    stack: Stack, browser: Any, shots: Path
) -> None:
    await ready(stack, await stack.token("command"))
    received = await post(stack, "/api/v1/complaints", TRAPPED)
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.get(f"/api/v1/status/{received['tracking_code']}") as answer,
    ):
        received_at = datetime.fromisoformat((await answer.json())["received_at"])
    page = await browser.new_page(viewport={"width": 1000, "height": 900}, timezone_id="America/New_York")
    await page.goto(f"{stack.url}/status/{received['tracking_code']}")
    row = page.locator("#facts tr", has_text="受理时间 Received")
    await expect(row).to_contain_text(
        f"{received_at.astimezone(ZoneInfo('Asia/Shanghai')):%H:%M:%S}", timeout=BOUND_MS
    )
    await expect(row).not_to_contain_text(f"{received_at.astimezone(ZoneInfo('America/New_York')):%H:%M:%S}")
    await expect(page.locator("#zone")).to_have_text("时间均为此时区 times are in: Asia/Shanghai (GMT+8)")
    await page.screenshot(path=shots / "01-city-time.png", full_page=True)
    await page.close()
