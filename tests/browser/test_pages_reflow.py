"""The staff pages on a tablet, a phone on its side and a laptop at 200 %, in headless Chromium against the real API
and projector: every button of a row is on the screen (not off to the right of a card that scrolls sideways with
nothing to say so), no page scrolls sideways on a 320 px phone, the header does not take a fifth of a short screen,
the command board's "decide one by one" table fits its card with room for the reason, and the P2 badge and the
header's focus ring can be read. A laptop at 200 % is a viewport of half its size at a device scale factor of 2.
Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack, box_of
from tests.browser.test_board_pages import post, ready, sign_in
from tests.browser.test_board_readable import contrast
from tests.integration.projections.typhoon_night import typhoon_night
from tests.support.notices import approval_of

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
# (width, height, device scale factor, name): a tablet upright, a phone on its side, a laptop, laptops at 200 %.
SCREENS = [(768, 1024, 1, "tablet"), (844, 390, 1, "phone-sideways"), (1280, 720, 1, "laptop"),
           (683, 384, 2, "laptop-1366-at-200pct"), (960, 540, 2, "wall-1920-at-200pct")]  # fmt: skip
PRESS_BUTTONS = "#notices td.actions button"
BOARD_BUTTONS = "#escalated-incidents button, #escalated button, #incidents button"
# Each drawn button not wholly within the viewport's width and within every box that clips it (a card scrolling
# sideways), as "<its text> at <left>-<right> of <left>-<right>".
OFF_SCREEN = """(buttons) => {
  const shown = (button) => {
    let left = 0, right = document.documentElement.clientWidth;
    for (let box = button.parentElement; box; box = box.parentElement) {
      if (getComputedStyle(box).overflowX === "visible") continue;
      const edge = box.getBoundingClientRect().left + box.clientLeft;
      [left, right] = [Math.max(left, edge), Math.min(right, edge + box.clientWidth)];
    }
    return [left, right];
  };
  return buttons.filter((b) => b.getClientRects().length).map((b) => [b, b.getBoundingClientRect(), shown(b)])
    .filter(([, box, [left, right]]) => box.left < left - 0.5 || box.right > right + 0.5)
    .map(([b, box, [left, right]]) => `${b.textContent.trim()} at ${Math.round(box.left)}-${Math.round(box.right)}`
      + ` of ${Math.round(left)}-${Math.round(right)}`);
}"""
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
POSITION = "(node) => getComputedStyle(node).position"
P2_BADGE = """(badge) => [getComputedStyle(badge).color, getComputedStyle(badge).backgroundColor]"""


def rgb(css: str) -> tuple[int, ...]:
    """ "rgb(173, 84, 0)" as (173, 84, 0)."""
    return tuple(int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


async def opened(
    browser: Any, url: str, token: str | None, screen: tuple[int, int, int, str]
) -> tuple[Any, Any]:
    """A context of its own (the scale factor is the context's) with the page at `url`, signed in with `token`."""
    width, height, scale, _ = screen
    context = await browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale, timezone_id="Asia/Shanghai"
    )
    page = await context.new_page()
    if token:
        await sign_in(page, url, token)
    else:
        await page.goto(url)
    return context, page


async def off_screen(page: Any, selector: str, at_least: int) -> list[str]:
    """The row buttons of `selector` not within the viewport's width; there are `at_least` of them drawn."""
    buttons = page.locator(selector)
    await expect(buttons.nth(at_least - 1)).to_be_attached(timeout=BOUND_MS)  # a loop over none would pass
    return list(await buttons.evaluate_all(OFF_SCREEN))


async def notices_with_every_action(stack: Stack, press: str, command: str) -> None:
    """A draft (Revise, Withdraw), an approved notice (Publish too) and a published one (Update, Withdraw)."""
    for n, title in enumerate(
        ["Pumps at work in Westbay", "Shelters open tonight", "Water back in Old Town"]
    ):
        text = {"status": "identified", "title_en": title, "title_zh": f"公告{n}", "body_en": f"{title}.",
                "body_zh": "排水车已到场。"}  # fmt: skip
        draft = await post(stack, "/api/v1/notices", {"incident_id": None, **text}, press)
        if n > 0:
            await post(stack, f"/api/v1/notices/{draft['id']}/approve", approval_of(text), command)
        if n > 1:
            await post(stack, f"/api/v1/notices/{draft['id']}/publish", {}, press)


async def test_every_row_button_is_on_the_screen_of_a_tablet_a_phone_sideways_and_a_laptop_at_200pct(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    await notices_with_every_action(stack, press, command)
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *typhoon_night(small=6).aggregates
    )
    found: dict[str, list[str]] = {}
    header_on_short_screens: list[
        str
    ] = []  # how the header is placed where it would take a fifth of the height
    for screen in SCREENS:
        name = screen[3]
        context, page = await opened(browser, f"{stack.url}/press", press, screen)
        await expect(page.locator("#notices tr[data-state=published]")).to_have_count(1, timeout=BOUND_MS)
        found[f"press {name}"] = await off_screen(page, PRESS_BUTTONS, 2 + 3 + 2)
        await page.locator("#notices tr[data-id]").first.scroll_into_view_if_needed()
        await page.screenshot(path=shots / f"press-{name}.png")
        if screen[1] < 600:  # a short screen: the header scrolls away with the page
            header_on_short_screens.append(await page.locator("header.top").evaluate(POSITION))
        await context.close()

        context, page = await opened(browser, f"{stack.url}/board", command, screen)
        # 3 incidents with command, 4 cases one by one, 9 incidents with a merge button: 2 buttons a row.
        found[f"board {name}"] = await off_screen(page, BOARD_BUTTONS, 3 + 4 + 2 * 9)
        await page.locator("#h-incidents").scroll_into_view_if_needed()
        await page.screenshot(path=shots / f"board-{name}.png")
        await context.close()
    assert found == {where: [] for where in found}
    assert set(header_on_short_screens) == {"static"}


async def test_a_320px_phone_scrolls_no_page_sideways_and_shows_every_row_button(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press, command, operator = (
        await stack.token("press"),
        await stack.token("command"),
        await stack.token("operator"),
    )
    await ready(stack, command)
    await notices_with_every_action(stack, press, command)
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *typhoon_night().aggregates
    )
    phone = (320, 700, 2, "phone")
    for path, token, drawn in [("/press", press, "#notices tr[data-state=published]"),
                               ("/board", command, "#incidents tr[data-id]"), ("/operator", operator, "#steps li"),
                               ("/status", None, "#notices article")]:  # fmt: skip
        context, page = await opened(browser, f"{stack.url}{path}", token, phone)
        await expect(page.locator(drawn).first).to_be_visible(timeout=BOUND_MS)
        assert await page.evaluate(SIDEWAYS) <= 0, path
        await page.screenshot(path=shots / f"{path.strip('/')}-320.png", full_page=True)
        await context.close()
    # Every button of a row is on the phone's screen, under its column's name.
    for path, token, buttons, at_least in [("/board", command, BOARD_BUTTONS, 3 + 4 + 2 * 7),
                                           ("/press", press, PRESS_BUTTONS, 2 + 3 + 2)]:  # fmt: skip
        context, page = await opened(browser, f"{stack.url}{path}", token, phone)
        assert await off_screen(page, buttons, at_least) == [], path
        await expect(page.locator(buttons).first.locator("xpath=ancestor::td")).to_have_attribute(
            "data-label", re.compile(r"\S")
        )
        await context.close()


async def test_the_cases_to_decide_fit_a_1280px_board_and_badges_and_focus_can_be_read(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *typhoon_night().aggregates
    )
    context, page = await opened(browser, f"{stack.url}/board", command, (1280, 720, 1, "laptop"))
    cases = page.locator("#escalated tr[data-id]")
    await expect(cases).to_have_count(4, timeout=BOUND_MS)
    card = page.locator("section[aria-labelledby=h-command]")
    overflow = await card.evaluate("(card) => [card.scrollWidth, card.clientWidth]")
    assert overflow[0] <= overflow[1], f"the table runs past its card: {overflow}"
    for why in await cases.locator("td.why").all():  # room for the reason: 14rem, not 100 px
        assert (await box_of(why, "a reason"))["width"] >= 14 * 16, await why.text_content()
    await page.locator("#h-command-cases").scroll_into_view_if_needed()
    await page.screenshot(path=shots / "01-cases-at-1280.png")

    # P2: bold white on orange, 4.5:1 at least (#c25e00 was 4.29:1).
    colour, background = await page.locator("#escalated .level.P2").first.evaluate(P2_BADGE)
    assert contrast(rgb(colour), rgb(background)) >= 4.5, (colour, background)
    # The focus ring on the dark header: 3:1 at least against it (the blue one was 2.35:1).
    link = page.locator("header.top nav a").first
    await page.locator("header.top h1").click()
    await page.keyboard.press("Tab")
    await expect(link).to_be_focused()
    ring = await link.evaluate("(a) => getComputedStyle(a).outlineColor")
    header = await page.locator("header.top").evaluate("(h) => getComputedStyle(h).backgroundColor")
    assert contrast(rgb(ring), rgb(header)) >= 3, (ring, header)
    await page.locator("header.top").screenshot(path=shots / "02-header-focus.png")
    await context.close()
