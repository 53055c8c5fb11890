"""The press page when a draft is saved into an outage, in headless Chromium against the real API and projector.

A draft the API stored but could not confirm (503 `write_unconfirmed`): the page said "not saved", and saving it
again made two. It must say the draft may have been saved and that saving it again unchanged is safe (the page
sends the same Idempotency-Key), and fetch the list again once the service answers. The lost answer is the page's
input (page.route); the draft really is stored. Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack, problem
from tests.browser.test_board_pages import ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 15_000  # the list is asked for again after Retry-After (5 s)


async def draft_into_an_outage(stack: Stack, browser: Any) -> tuple[Any, list[Any]]:
    """The press page, a draft typed and saved, its answer lost (the draft is stored): the page and what the API
    stored."""
    press = await stack.token("press")
    await ready(stack, await stack.token("command"))
    page = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(page, f"{stack.url}/press", press)
    await expect(page.locator("#notices")).to_contain_text("暂无公告 no notices yet", timeout=BOUND_MS)

    saved: list[Any] = []

    async def notices(route: Any) -> None:
        if route.request.method != "POST" or saved:
            await route.continue_()
            return
        saved.append(await (await route.fetch()).json())  # to the real API: the draft is stored
        await route.fulfill(**problem(503, "write_unconfirmed", "The notice may or may not be stored: "
                                      "TimeoutError. Ask again to find out."))  # fmt: skip

    await page.route("**/api/v1/notices", notices)
    await page.get_by_label("标题（中文） Title (Chinese)").fill("西湾区供水恢复")
    await page.get_by_label("标题（英文） Title (English)").fill("Water back in Westbay")
    await page.get_by_label("正文（中文） Text (Chinese)").fill("西湾区已恢复供水。")
    await page.get_by_label("正文（英文） Text (English)").fill("Water is back in Westbay.")
    await page.get_by_role("button", name="保存草稿 Save draft").click()
    return page, saved


async def test_a_draft_saved_into_an_outage_says_saving_again_is_safe_and_lists_it_when_back(
    stack: Stack, browser: Any, shots: Path
) -> None:
    page, saved = await draft_into_an_outage(stack, browser)
    message = page.locator("#draft-message")  # said beside Save draft
    await expect(message).to_contain_text(
        "可能已保存，尚未确认：请勿修改，直接再按“保存草稿”", timeout=BOUND_MS
    )
    await expect(message).to_contain_text(
        "May have been saved, not confirmed — press Save draft again unchanged: it is never saved twice."
    )
    await expect(message).not_to_contain_text("Not saved")
    await expect(message).to_have_text(re.compile(r"^\d\d:\d\d "))
    await expect(page.get_by_label("标题（英文） Title (English)")).to_have_value("Water back in Westbay")
    await page.screenshot(path=shots / "01-may-have-been-saved.png", full_page=True)

    # The service answers again: the list is fetched, and shows the draft that was stored after all.
    await expect(message).to_contain_text("The service is back", timeout=BOUND_MS)
    await expect(page.locator(f"#notices tr[data-id='{saved[0]['id']}']")).to_contain_text(
        "Water back in Westbay", timeout=BOUND_MS
    )
    await page.screenshot(path=shots / "02-list-fetched-again.png", full_page=True)
    await page.unroute_all(behavior="ignoreErrors")
    await page.close()


async def test_a_draft_saved_again_after_a_lost_answer_is_one_draft(
    stack: Stack, browser: Any, shots: Path
) -> None:
    page, saved = await draft_into_an_outage(stack, browser)
    message = page.locator("#draft-message")  # said beside Save draft
    await expect(message).to_contain_text("press Save draft again unchanged", timeout=BOUND_MS)

    async with page.expect_response(lambda r: r.request.method == "POST") as answered:
        await page.get_by_role("button", name="保存草稿 Save draft").click()  # to the real API this time
    again = await (await answered.value).json()
    await expect(message).to_contain_text("Draft saved; command staff must approve it", timeout=BOUND_MS)
    await expect(message).to_contain_text("recorded by the earlier try, nothing added")
    # Once the list shows what the second save answered, it shows one draft of these words, not two.
    await expect(page.locator(f"#notices tr[data-id='{again['id']}']")).to_have_count(1, timeout=BOUND_MS)
    await expect(page.locator("#notices tr", has_text="Water back in Westbay")).to_have_count(1)
    assert again["id"] == saved[0]["id"]
    await page.screenshot(path=shots / "01-saved-again-one-draft.png", full_page=True)
    await page.close()


async def test_a_draft_refused_outright_after_an_uncertain_save_keeps_its_key(
    stack: Stack, browser: Any, shots: Path
) -> None:
    """Stored but unconfirmed, then refused outright (NATS still down: nothing stored by that try), then saved:
    the refusal proves nothing about the first try, so the third carries the first's key (a review found a new
    key there, and two drafts)."""
    page, saved = await draft_into_an_outage(stack, browser)
    message = page.locator("#draft-message")  # said beside Save draft
    await expect(message).to_contain_text("press Save draft again unchanged", timeout=BOUND_MS)
    keys: list[str] = []

    async def down_then_up(route: Any) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            await route.fulfill(**problem(503, "dependency_unavailable", "NATS: connection lost, reconnecting",
                                          dependency="NATS"))  # fmt: skip
        else:
            await route.continue_()

    await page.unroute_all(behavior="ignoreErrors")
    await page.route("**/api/v1/notices", down_then_up)
    await page.get_by_role("button", name="保存草稿 Save draft").click()
    await expect(message).to_contain_text("Not saved", timeout=BOUND_MS)
    await page.get_by_role("button", name="保存草稿 Save draft").click()
    await expect(message).to_contain_text("Draft saved; command staff must approve it", timeout=BOUND_MS)
    assert len(keys) == 2 and keys[0] == keys[1] != ""
    await expect(page.locator(f"#notices tr[data-id='{saved[0]['id']}']")).to_have_count(1, timeout=BOUND_MS)
    await expect(page.locator("#notices tr", has_text="Water back in Westbay")).to_have_count(1)
    await page.screenshot(path=shots / "01-one-draft-after-refusal.png", full_page=True)
    await page.close()
