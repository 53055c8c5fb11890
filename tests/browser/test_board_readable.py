"""The command board read at a glance on a typhoon night, in headless Chromium against the real API and projector.

Overdue times in words ("10:01" read as a clock time), a case nobody has been sent says so, the map counts
every open case of a district (one reported by district alone has no point: its district said 0), and the header
keeps the connection state and a readable as-of time in view, with the time zone said once. Screenshots under
test-output/browser/<test name>/.
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
from tests.integration.projections.typhoon_night import typhoon_night

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
HEADER = (13, 37, 56)  # levee.css: header.top's background, #0d2538
AS_OF = (216, 226, 236)  # what the as-of time is drawn in on it (it was #57606a: 2.45:1)
BY_DISTRICT_ONLY = {
    "channel": "web",
    "description": "Trees down across the lane behind the school; nobody can get through",
    "category": "fallen_tree",
    "location": {"district": "riverside"},
}


def contrast(one: tuple[int, ...], other: tuple[int, ...]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""

    def luminance(rgb: tuple[int, ...]) -> float:
        linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_the_board_says_times_in_words_counts_every_case_and_keeps_its_header_in_view(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    night = typhoon_night(small=12)
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *night.aggregates
    )
    await post(stack, "/api/v1/complaints", BY_DISTRICT_ONLY)  # a district, no coordinates

    board = await browser.new_page(viewport={"width": 1500, "height": 1000}, timezone_id="Asia/Shanghai")
    await sign_in(board, f"{stack.url}/board", command)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)

    # Riverside: the gas leak, two small incidents' cases (located), and the one reported by district alone.
    riverside = board.locator("svg.map text[data-district=riverside]")
    await expect(riverside).to_have_text("河畔区 4", timeout=10_000)
    await expect(board.locator("svg.map text[data-located=riverside]")).to_have_text("图上 3 件 3 on the map")
    await expect(board.locator("svg.map text[data-district=harbourfront]")).to_have_text("海港区 5")
    await expect(board.locator("svg.map text[data-located=harbourfront]")).to_have_count(0)  # all on it
    await board.locator("#h-map").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-map-counts.png")

    # Overdue by "10分 10 min", not "10:01"; the cases nobody has been sent say so, not "—".
    overdue = board.locator("#overdue tr[data-id]")
    await expect(overdue).to_have_count(7)
    await expect(overdue.first.locator("td.wait")).to_have_text(re.compile(r"^1[0-2]分 1[0-2] min$"))
    await expect(overdue.first.locator("td.undispatched")).to_have_text("未派单 not dispatched")
    code = await box_of(overdue.first.locator("td.code"), "an overdue case's code")
    assert code["height"] < 30, code
    await board.locator("#h-overdue").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-overdue-in-words.png")

    # The header: readable on its dark blue, the zone said once, and in view wherever the officer has scrolled.
    await expect(board.locator("#asof")).to_have_css("color", "rgb({}, {}, {})".format(*AS_OF))
    assert contrast(AS_OF, HEADER) >= 4.5
    await expect(board.locator("header.top")).to_have_css(
        "background-color", "rgb({}, {}, {})".format(*HEADER)
    )
    await expect(board.locator("#zone")).to_have_text("时区 time zone: Asia/Shanghai (GMT+8)")
    await board.mouse.wheel(0, 4000)
    await expect(board.locator("#h-depts")).to_be_in_viewport()  # the bottom of the board
    await expect(board.locator("#conn")).to_be_in_viewport()
    await expect(board.locator("#asof")).to_be_in_viewport()
    await board.screenshot(path=shots / "03-scrolled-header-in-view.png")
    # What is scrolled into view from above lands below the header however tall it wrapped (5rem was less).
    await board.set_viewport_size({"width": 700, "height": 900})
    header = await box_of(board.locator("header.top"), "the board's header")
    tall = int(header["height"]) + 8  # offsetHeight: whole pixels
    await expect(board.locator("html")).to_have_css(
        "scroll-padding-top", re.compile(rf"^({tall}|{tall + 1})px$")
    )
    assert tall > 5 * 16 + 8, header  # it wrapped past what the fixed 5rem kept clear
    await board.close()
