"""Where the keyboard is, and what is said of it, in headless Chromium against the real API and projector: the
operator's field is never under the sticky life-first box, the command board keeps the focus on the control it was
on when its rows are drawn anew (a refetch, a person named) and says what came of an action in a status region,
the press page says "Draft saved" beside Save draft on a laptop at 200 %, and the public status page says what it
found. Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack, box_of
from tests.browser.test_board_pages import LIVE_BOUND_MS, TRAPPED, post, ready, sign_in
from tests.browser.test_board_responsible import answer_prompt_with
from tests.integration.projections.typhoon_night import typhoon_night

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
GAS_LEAK = "燃气泄漏 gas leak: a strong smell of gas in the kitchen of the flat upstairs"
# The focused control and the life-first box, each as [top, bottom] in the viewport.
FIELD_AND_BOX = """() => {
  const field = document.activeElement.getBoundingClientRect(), box = document.getElementById("life-first").getBoundingClientRect();
  return { id: document.activeElement.id || document.activeElement.tagName, field: [field.top, field.bottom],
           box: [box.top, box.bottom], inBox: document.getElementById("life-first").contains(document.activeElement) };
}"""


async def screen(browser: Any, width: int, height: int, scale: int = 1) -> tuple[Any, Any]:
    context = await browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale, timezone_id="Asia/Shanghai"
    )
    return context, await context.new_page()


@pytest.mark.parametrize(("width", "height", "scale"), [(1366, 768, 1), (683, 384, 2)])
async def test_shift_tab_never_leaves_the_operator_under_the_life_first_box(
    stack: Stack, browser: Any, shots: Path, width: int, height: int, scale: int
) -> None:
    operator = await stack.token("operator")
    await ready(stack, await stack.token("command"))
    context, page = await screen(browser, width, height, scale)
    await sign_in(page, f"{stack.url}/operator", operator)
    await expect(page.locator("#steps li")).to_have_count(7, timeout=BOUND_MS)
    await page.locator("#description").fill(GAS_LEAK)
    await expect(page.locator("#life-first")).to_contain_text("119", timeout=BOUND_MS)
    await page.locator("#submit").focus()
    await page.locator(
        "#h-follow"
    ).scroll_into_view_if_needed()  # the operator has scrolled on, the box stuck on top

    covered, seen = [], []
    for _ in range(40):
        await page.keyboard.press("Shift+Tab")
        where = await page.evaluate(FIELD_AND_BOX)
        seen.append(where["id"])
        if not where["inBox"] and where["field"][0] < where["box"][1] and where["field"][1] > where["box"][0]:
            covered.append(where)
            if len(covered) == 1:
                await page.screenshot(path=shots / "00-covered.png")
        if where["id"] == "description":
            break
    assert "category" in seen and "people_affected" in seen, seen
    assert covered == []
    await page.locator("#category").focus()
    await page.screenshot(path=shots / "01-category-below-the-box.png")
    await context.close()


async def test_the_board_keeps_the_focus_through_a_refetch_and_says_what_an_action_came_to(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    night = typhoon_night()
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *night.aggregates
    )
    context, page = await screen(browser, 1500, 1000)
    await sign_in(page, f"{stack.url}/board", command)
    await page.wait_for_selector("#conn[data-state=live]", timeout=BOUND_MS)
    flood = page.locator(f"#incidents tr[data-id='{night.incidents['flood']}'] button.assign")
    await expect(flood).to_have_text("未指定 unassigned", timeout=BOUND_MS)
    opened = await page.locator("[data-testid=count-open]").text_content()

    await flood.focus()
    before = await flood.element_handle()
    await post(stack, "/api/v1/complaints", TRAPPED)  # a live change: the board fetches itself again
    await expect(page.locator("[data-testid=count-open]")).to_have_text(
        str(int(opened or 0) + 1), timeout=BOUND_MS
    )
    assert not await before.evaluate("(button) => button.isConnected")  # the row was drawn anew
    await expect(flood).to_be_focused()

    asked: list[str] = []
    answer_prompt_with(page, "王芳", asked)
    await page.keyboard.press("Enter")
    await expect(flood).to_have_text("王芳", timeout=LIVE_BOUND_MS)
    await expect(flood).to_be_focused()
    said = page.get_by_role("status").filter(has_text="责任人已指定 王芳 is now responsible")
    await expect(said).to_have_count(1)
    await page.locator("#h-incidents").scroll_into_view_if_needed()
    await page.screenshot(path=shots / "01-named-focus-kept.png")
    await context.close()


async def test_the_press_page_says_draft_saved_beside_the_button_at_200pct(
    stack: Stack, browser: Any, shots: Path
) -> None:
    press = await stack.token("press")
    await ready(stack, await stack.token("command"))
    context, page = await screen(browser, 683, 384, 2)
    await sign_in(page, f"{stack.url}/press", press)
    await expect(page.locator("#notices")).to_contain_text("暂无公告 no notices yet", timeout=BOUND_MS)
    await page.get_by_label("标题（中文） Title (Chinese)").fill("西湾区供水恢复")
    await page.get_by_label("标题（英文） Title (English)").fill("Water back in Westbay")
    await page.get_by_label("正文（中文） Text (Chinese)").fill("西湾区已恢复供水。")
    await page.get_by_label("正文（英文） Text (English)").fill("Water is back in Westbay.")
    save = page.get_by_role("button", name="保存草稿 Save draft")
    await save.focus()
    await page.keyboard.press("Enter")

    said = page.get_by_role("status").filter(has_text="Draft saved; command staff must approve it")
    await expect(said).to_be_in_viewport(timeout=BOUND_MS)
    button, message = await box_of(save, "Save draft"), await box_of(said, "what the save came to")
    assert 0 <= message["y"] - (button["y"] + button["height"]) < 40, (button, message)
    await expect(save).to_be_in_viewport()
    await page.screenshot(path=shots / "01-saved-beside-the-button.png")
    await context.close()


async def test_the_status_page_says_what_it_found(stack: Stack, browser: Any, shots: Path) -> None:
    await ready(stack, await stack.token("command"))
    received = await post(stack, "/api/v1/complaints", TRAPPED)
    context, page = await screen(browser, 390, 844, 2)
    await page.goto(f"{stack.url}/status")
    await page.get_by_label("查询编号 Tracking code").fill(received["tracking_code"])
    await page.keyboard.press("Enter")
    await expect(page.locator("#h-result")).to_contain_text(received["tracking_code"], timeout=BOUND_MS)
    heading = await page.locator("#h-result").text_content() or ""
    status = heading.split(" · ", 1)[1]  # "已受理 received"
    said = page.get_by_role("status").filter(has_text=f"{received['tracking_code']}: {status}")
    await expect(said).to_have_count(1)
    await page.screenshot(path=shots / "01-found-and-said.png")
    await context.close()
