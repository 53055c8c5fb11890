"""The operator console while NATS or PostgreSQL is failing, in headless Chromium against the real API.

A review froze the dependencies under a running system: a call the API stored but could not confirm (503
`write_unconfirmed`) was reported "not filed; reload and check", and a reload threw away the card and its
Idempotency-Key, so the call typed again was filed twice. The card must say it may have been filed and to press
Submit again unchanged. The failing answers are the page's input, given with page.route; the server stays real
and the first call really is stored. Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from events.store import JetStreamEventStore
from tests.browser.conftest import Stack, problem
from tests.browser.test_operator_page import _call_card, _filed, _json, _until
from tests.browser.test_reports_outage import BACK_MS, DATABASE_DOWN, back_up, stack_on_own_postgres
from tests.integration.operator.helpers import published_notice

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000


async def test_a_call_stored_but_unconfirmed_is_filed_once_by_pressing_submit_again(
    stack: Stack, browser: Any, shots: Path
) -> None:
    operator = await stack.token("operator")
    page = await _call_card(stack, browser, operator)
    # The console shows its connection as the other staff pages do.
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=BOUND_MS)
    await expect(page.locator("#conn")).to_contain_text("connected · live")

    # PostgreSQL away for a moment: the acceptance preview fails, and says so in words, not "503: PostgreSQL: ...".
    previews: list[str] = []

    async def preview(route: Any) -> None:
        previews.append(route.request.url)
        if len(previews) == 1:
            await route.fulfill(**problem(503, "dependency_unavailable", "PostgreSQL: cannot check the token: "
                                          "TimeoutError", dependency="PostgreSQL"))  # fmt: skip
        else:
            await route.continue_()

    await page.route("**/api/v1/operator/preview", preview)
    description = "Manhole cover missing on Station Road, outside the bakery"
    await page.locator("#description").fill(description)
    top = page.locator("#message")
    await expect(top).to_contain_text("数据库（PostgreSQL）暂时无法连接，请5秒后再试", timeout=BOUND_MS)
    await expect(top).to_contain_text(
        "the database (PostgreSQL) cannot be reached right now; try again in 5 s (503)"
    )
    await expect(top).to_have_text(re.compile(r"^\d\d:\d\d "))  # said when: it may be read much later

    # The call is stored, but the answer is lost: the API says it could not confirm it.
    stored: list[dict[str, Any]] = []

    async def calls(route: Any) -> None:
        if stored:
            await route.continue_()
            return
        answer = await route.fetch()  # to the real API: the call is filed
        stored.append(await answer.json())
        await route.fulfill(**problem(503, "write_unconfirmed", "The complaint may or may not be stored: "
                                      "TimeoutError. Ask again with the same Idempotency-Key."))  # fmt: skip

    await page.route("**/api/v1/operator/calls", calls)
    await page.locator("#submit").click()
    result = page.locator("#call-result")
    await expect(result).to_contain_text("可能已提交", timeout=BOUND_MS)
    await expect(result).to_contain_text("May have been filed")
    await expect(result).to_contain_text("Press Submit again WITHOUT changing the card: if it was filed, the same code "
                                         "comes back and nothing is filed twice.")  # fmt: skip
    await expect(result).to_contain_text("请勿修改此卡片，直接再按“提交”")
    await expect(result).not_to_contain_text(re.compile("reload|刷新", re.IGNORECASE))
    await expect(result).not_to_contain_text("not filed")
    await expect(page.locator("#description")).to_have_value(description)  # the card is kept as it was
    await page.screenshot(path=str(shots / "01-may-have-been-filed.png"))

    # Submit again, unchanged: the same code, one complaint; the old error at the top goes with the success.
    await page.locator("#submit").click()
    await expect(result).to_contain_text("received", timeout=BOUND_MS)
    await expect(result.locator(".code")).to_have_text(stored[0]["tracking_code"])
    await expect(top).to_be_empty()
    await page.screenshot(path=str(shots / "02-same-code-again.png"))
    found = await _filed(stack, operator, description)
    assert [c["tracking_code"] for c in found] == [stored[0]["tracking_code"]]
    await page.close()


async def test_a_call_refused_because_a_dependency_is_down_says_not_filed(stack: Stack, browser: Any) -> None:
    """Every 503 but write_unconfirmed means nothing was stored: "may have been filed" there was false (found by
    a review of the pages' change), and would have the operator believe a call was filed that was not."""
    operator = await stack.token("operator")
    page = await _call_card(stack, browser, operator)
    await page.route(
        "**/api/v1/operator/calls",
        lambda route: route.fulfill(
            **problem(
                503,
                "dependency_unavailable",
                "PostgreSQL: cannot check the token: TimeoutError",
                dependency="PostgreSQL",
            )
        ),
    )
    await page.locator("#description").fill("Street light down on Pier Road, sparking")
    await page.locator("#submit").click()
    result = page.locator("#call-result")
    await expect(result).to_contain_text("not filed", timeout=BOUND_MS)
    await expect(result).to_contain_text(
        "the database (PostgreSQL) cannot be reached right now; try again in 5 s"
    )
    await expect(result).not_to_contain_text("May have been filed")
    await page.close()


async def test_the_console_opened_in_a_database_outage_says_what_is_down_and_recovers_by_itself(
    nats_url: str, tmp_path: Path, stream_spec: Any, store: JetStreamEventStore, browser: Any, shots: Path
) -> None:
    """A review opened the console while PostgreSQL was down: "Current facts" (what the operator reads to callers)
    stayed empty and "the database cannot be reached" stayed at the top after it was back, and nothing said before
    a call that no call could be filed."""
    async with stack_on_own_postgres(nats_url, tmp_path, stream_spec.name) as (stack, postgres):
        operator = await stack.token("operator")
        await published_notice(store)

        async def notice_in_facts() -> bool:
            facts = await _json(stack, "GET", "/api/v1/operator/facts", operator)
            return bool(facts["notices"])

        await _until("the notice in the facts", notice_in_facts)  # the token is checked now, too

        await asyncio.to_thread(postgres.stop)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        await page.goto(f"{stack.url}/operator")
        await page.locator("#token").fill(operator)
        await page.keyboard.press("Enter")
        intake, facts = page.locator("#intake"), page.locator("#facts-message")
        await expect(intake).to_be_visible(timeout=BOUND_MS)  # before any call is taken
        await expect(intake).to_contain_text("数据库无法连接：新投诉暂时无法登记")
        await expect(intake).to_contain_text(
            "The database (PostgreSQL) is unreachable: no complaint can be filed"
        )
        await expect(facts).to_contain_text("读取失败 Facts not loaded", timeout=BOUND_MS)
        await expect(facts).to_contain_text(DATABASE_DOWN)
        await expect(page.locator("#fu-message")).to_contain_text("读取失败 Follow-ups not loaded")
        await page.screenshot(path=shots / "01-database-down.png", full_page=True)

        await back_up(stack, postgres)
        await expect(page.locator("#facts")).to_contain_text("Power cut in Riverside", timeout=BACK_MS)
        await expect(facts).to_be_empty()
        await expect(page.locator("#fu-message")).to_be_empty(timeout=BACK_MS)
        await expect(page.locator("#message")).to_be_empty()
        await expect(intake).to_be_hidden(timeout=BACK_MS)
        await page.screenshot(path=shots / "02-back-by-itself.png", full_page=True)
        await page.close()


@pytest.mark.parametrize(
    ("dependency", "said"),
    [
        (
            "NATS",
            "事件库（NATS）暂时无法连接，请5秒后再试 the event store (NATS) cannot be reached right now",
        ),
        (
            "PostgreSQL",
            "数据库（PostgreSQL）暂时无法连接，请5秒后再试 the database (PostgreSQL) cannot be reached right now",
        ),
        (None, "服务暂时不可用，请5秒后再试 the service is unavailable"),
    ],
    ids=["NATS", "PostgreSQL", "not named"],
)
async def test_a_call_refused_by_intake_names_the_service_that_is_down_when_the_answer_does(
    stack: Stack, browser: Any, dependency: str | None, said: str
) -> None:
    """Intake's 503 `unavailable` says which service is down (`dependency`), as staff commands' 503s do."""
    operator = await stack.token("operator")
    page = await _call_card(stack, browser, operator)
    named = {"dependency": dependency} if dependency else {}
    await page.route("**/api/v1/operator/calls", lambda route: route.fulfill(**problem(
        503, "unavailable", "Nothing was stored: it is unreachable. Try again.", **named)))  # fmt: skip
    await page.locator("#description").fill("Street light down on Pier Road, sparking")
    await page.locator("#submit").click()
    result = page.locator("#call-result")
    await expect(result).to_contain_text("未提交 not filed", timeout=BOUND_MS)
    await expect(result).to_contain_text(said)
    await expect(result).not_to_contain_text("Nothing was stored: it is unreachable")
    await page.close()
