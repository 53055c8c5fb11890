"""The press page's row actions on a laptop at 200 % (683x384 CSS px at a device scale factor of 2), in headless
Chromium against the real API and projector.

An accessibility review found Publish, Approve and Withdraw, and the Revise and Update forms' Save, saying what they
came to in #message at the top of the page: at 200 % out of view, the officer left guessing. Each row action now says
it under the row's buttons (a status region), its button saying what it sends while the request is out, and a form's
save beside its Save button. Answers are held with page.route; the server stays real. Screenshots under
test-output/browser/<test name>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack, box_of, problem
from tests.browser.test_board_pages import post, ready, sign_in
from tests.browser.test_department_phone import Held, assert_in_viewport
from tests.support.notices import approval_of

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
TEXT = {"status": "identified", "title_zh": "西湾区排水车已到场", "title_en": "Pumps at work in Westbay",
        "body_zh": "排水车已到场。", "body_en": "Pumps are at work in Westbay."}  # fmt: skip


async def laptop_at_200pct(stack: Stack, browser: Any, token: str) -> tuple[Any, Any]:
    context = await browser.new_context(
        viewport={"width": 683, "height": 384}, device_scale_factor=2, timezone_id="Asia/Shanghai"
    )
    page = await context.new_page()
    await sign_in(page, f"{stack.url}/press", token)
    return context, page


async def notices(stack: Stack, press: str, command: str, approved: bool) -> list[dict[str, Any]]:
    """Two drafts ahead of the one acted on, so its row is well down the page; it approved when `approved`."""
    drafted = [await post(stack, "/api/v1/notices", {"incident_id": None, **TEXT, "title_zh": f"公告{n}"}, press)
               for n in range(2)]  # fmt: skip
    drafted.append(await post(stack, "/api/v1/notices", {"incident_id": None, **TEXT}, press))
    if approved:
        await post(stack, f"/api/v1/notices/{drafted[-1]['id']}/approve", approval_of(TEXT), command)
    return drafted


async def test_publish_at_200pct_says_sending_then_its_outcome_at_the_row_in_view(
    stack: Stack, browser: Any, shots: Path
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    notice = (await notices(stack, press, command, approved=True))[-1]
    context, page = await laptop_at_200pct(stack, browser, press)
    row = page.locator(f"#notices tr[data-id='{notice['id']}']")
    await expect(row).to_have_attribute("data-state", "approved", timeout=BOUND_MS)

    held = Held()
    await page.route(f"**/api/v1/notices/{notice['id']}/publish", held)
    publish = row.locator("button[data-action=publish]")
    await publish.focus()  # the keyboard's way: it scrolls the button into view
    await page.keyboard.press("Enter")
    await expect(publish).to_have_text("发布中… Publishing…")
    await expect(publish).to_have_attribute("aria-disabled", "true")
    await expect(publish).to_be_focused()  # not disabled: the focus stays on it
    await expect(publish).to_have_accessible_description(TEXT["title_en"])  # which notice it publishes
    await page.screenshot(path=shots / "01-publishing.png")
    await page.keyboard.press("Enter")  # pressed again while it is on its way: sent once
    assert len(held.routes) == 1
    held.released.set()

    said = row.get_by_role("status")
    await expect(said).to_have_text(
        f"{TEXT['title_zh']} {TEXT['title_en']}: 已发布 published", timeout=BOUND_MS
    )
    await assert_in_viewport(page, said, "what Publish came to")
    await expect(said.locator("[lang=en]")).to_have_text([f"{TEXT['title_en']}:", "published"])
    await expect(page.locator("#message")).to_be_empty()  # said once, where the officer is
    # The list shows it published (a line more in the row): what was said stays, and in view.
    await expect(row).to_have_attribute("data-state", "published", timeout=BOUND_MS)
    await expect(said).to_have_text(f"{TEXT['title_zh']} {TEXT['title_en']}: 已发布 published")
    await assert_in_viewport(page, said, "what Publish came to, once the row is drawn anew")
    await expect(row.get_by_role("button", name="更新 Update")).to_be_focused()
    await page.screenshot(path=shots / "02-published-said-at-the-row.png")
    assert len(held.routes) == 1
    await context.close()


async def test_a_revision_at_200pct_says_what_its_save_came_to_beside_save_then_at_the_row(
    stack: Stack, browser: Any, shots: Path
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    notice = (await notices(stack, press, command, approved=False))[-1]
    context, page = await laptop_at_200pct(stack, browser, press)
    row = page.locator(f"#notices tr[data-id='{notice['id']}']")
    await expect(row).to_have_attribute("data-state", "draft", timeout=BOUND_MS)
    await row.get_by_role("button", name="修改 Revise").click()
    editor = page.locator(f"#notices tr.editor[data-editor-for='{notice['id']}']")
    await editor.get_by_label("标题（英文） Title (English)").fill("Pumps at work in Westbay tonight")

    async def changed_meanwhile(route: Any) -> None:
        await route.fulfill(**problem(409, "concurrent_change", "The notice changed meanwhile."))

    await page.route(f"**/api/v1/notices/{notice['id']}/revise", changed_meanwhile)
    save = editor.get_by_role("button", name="保存修改 Save revision")
    await save.focus()
    await page.keyboard.press("Enter")
    said = editor.get_by_role("status").filter(has_text="修改未保存 revision not saved")
    await expect(said).to_contain_text("changed by someone else meanwhile", timeout=BOUND_MS)
    await assert_in_viewport(page, said, "what Save came to")
    button, message = await box_of(save, "Save revision"), await box_of(said, "what Save came to")
    assert 0 <= message["y"] - (button["y"] + button["height"]) < 40, (
        button,
        message,
    )  # beside it: just under
    await expect(save).to_be_focused()
    await page.screenshot(path=shots / "01-refused-beside-save.png")

    await page.unroute_all(behavior="ignoreErrors")
    await page.keyboard.press(
        "Enter"
    )  # saved this time: the form closes, and the row says so where the focus goes
    await expect(editor).to_have_count(0, timeout=BOUND_MS)
    revise = row.get_by_role("button", name="修改 Revise")
    await expect(revise).to_be_focused()
    at_row = row.get_by_role("status")
    await expect(at_row).to_contain_text(
        "已修改，待指挥重新批准 revised; command staff must approve it again"
    )
    await assert_in_viewport(page, at_row, "what the revision came to")
    await page.screenshot(path=shots / "02-revised-said-at-the-row.png")
    await context.close()
