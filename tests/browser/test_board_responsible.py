"""责任人 on the command board, in headless Chromium against the real API and projector: the duty officer sees
which escalated cases and incidents nobody owns (a red 未指定 unassigned), names a person from the board, and
the board shows the name. Screenshots go under test-output/browser/<test name>/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import LIVE_BOUND_MS, ready, sign_in
from tests.integration.projections.typhoon_night import typhoon_night

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect


def answer_prompt_with(page: Any, name: str, asked: list[str]) -> None:
    """The next prompt() is answered with `name`; what it asked is kept in `asked`."""

    async def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.accept(name)

    page.once("dialog", answer)


async def test_command_names_the_person_responsible_from_the_board(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    night = typhoon_night()
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *night.aggregates
    )

    board = await browser.new_page(viewport={"width": 1500, "height": 1100})
    await sign_in(board, f"{stack.url}/board", command)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    loner = board.locator(f"#escalated tr[data-id='{night.cases['loner']}'] td.owner")
    await expect(loner).to_contain_text("未指定 unassigned", timeout=10_000)
    await expect(board.locator("[data-testid=count-unassigned]")).to_have_text("15")
    flood = board.locator(f"#escalated-incidents tr[data-incident='{night.incidents['flood']}'] td.owner")
    await expect(flood).to_contain_text("未指定 unassigned")
    await expect(
        board.locator(f"#incidents tr[data-id='{night.incidents['flood']}'] td.owner")
    ).to_contain_text("未指定 unassigned")
    await board.locator("#h-command").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-nobody-responsible.png")

    asked: list[str] = []
    answer_prompt_with(board, "李伟 Li Wei", asked)
    await loner.get_by_role("button", name="指定 assign").click()
    await expect(loner.locator(".person")).to_have_text("李伟 Li Wei", timeout=LIVE_BOUND_MS)
    assert "责任人" in asked[0] and night.titles["flood"] not in asked[0]
    await expect(board.locator("[data-testid=count-unassigned]")).to_have_text("14")

    answer_prompt_with(board, "王芳", asked)
    await flood.get_by_role("button", name="指定 assign").click()
    await expect(flood.locator(".person")).to_have_text("王芳", timeout=LIVE_BOUND_MS)
    assert night.titles["flood"] in asked[1]
    flood_incident = board.locator(f"#incidents tr[data-id='{night.incidents['flood']}'] td.owner")
    await expect(flood_incident.locator(".person")).to_have_text("王芳")
    await expect(board.locator("[data-testid=count-unassigned]")).to_have_text(
        "9"
    )  # the flood's five are owned
    # Said under the row acted on, kept across the refetches that rebuild it.
    said = board.locator(
        f"#escalated-incidents tr.note[data-note-for='escalated-incidents:{night.incidents['flood']}']"
    )
    await expect(said).to_contain_text("责任人已指定 王芳 is now responsible")
    await board.locator("#h-command").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-named.png")
    await board.screenshot(path=shots / "02b-named-full.png", full_page=True)

    # Naming the same person again is refused, and the board says why.
    answer_prompt_with(board, "李伟 li wei", asked)
    await loner.get_by_role("button", name="更换 change").click()
    message = board.locator(f"#escalated tr.note[data-note-for='escalated:{night.cases['loner']}']")
    await expect(message).to_contain_text("指定责任人失败", timeout=LIVE_BOUND_MS)
    await expect(message).to_contain_text("此人已是责任人 that person is already responsible (409)")
    await expect(message).to_be_in_viewport()
    await expect(loner.locator(".person")).to_have_text("李伟 Li Wei")
    await board.screenshot(path=shots / "03-refused.png")
    await board.close()
