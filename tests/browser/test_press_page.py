"""The press page in headless Chromium: summary drafts a newer one replaced stay out of the working list until
asked for, and then read as superseded, with nothing to act on. Screenshots under test-output/browser/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from events.incident import Incident
from events.mapper import make_mapper
from events.notice import Notice
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.notices.summary import DRAFTED_BY
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect


def _summary(incident: Incident, reports: int, drafted_by: str = DRAFTED_BY) -> Notice:
    return Notice.draft(
        incident_id=incident.id, title_en="Progress update: Flooding (Westbay)", title_zh="处置进展通报：内涝（西湾区）",
        body_en=f"{reports} reports about this incident have been received.",
        body_zh=f"本事件共受理群众诉求{reports}件。", status="investigating", drafted_by=drafted_by,
    )  # fmt: skip


async def test_press_page_shows_superseded_summaries_only_on_request(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press = await stack.token("press")
    await ready(stack, await stack.token("command"))
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    incident = Incident.declare(
        title="Flooding", kind="flooding", districts=["westbay"], declared_by="cmd-wu"
    )
    older, current = _summary(incident, 2), _summary(incident, 450)
    older.supersede(current.id, by=DRAFTED_BY)
    by_hand = _summary(incident, 400, drafted_by="press-li")
    await repository.save(incident, older, current, by_hand)

    page = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(page, f"{stack.url}/press", press)
    rows = page.locator("#notices tr[data-id]")
    await expect(rows).to_have_count(2, timeout=5_000)
    assert {await r.get_attribute("data-id") for r in await rows.all()} == {str(current.id), str(by_hand.id)}
    more = page.locator("#superseded-more")
    await expect(more).to_contain_text("1 份自动进展草稿")
    await page.screenshot(path=shots / "01-current-drafts.png", full_page=True)

    await more.get_by_role("button", name="显示 Show").click()
    superseded = page.locator(f"#notices tr[data-id='{older.id}'][data-state=superseded]")
    await expect(superseded).to_contain_text("superseded by a newer draft")
    await expect(superseded.locator("button")).to_have_count(0)  # nothing to withdraw or approve
    await expect(rows).to_have_count(3)
    await page.screenshot(path=shots / "02-superseded-shown.png", full_page=True)
    await more.get_by_role("button", name="隐藏 Hide").click()
    await expect(rows).to_have_count(2)
    await page.close()


async def test_command_approves_on_the_press_page_the_text_it_shows(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    """The Approve button names the text on the row (the API refuses any other: test_commands_incidents_notices.py),
    and after a revision the row shows and names the new text."""
    command = await stack.token("command")
    await ready(stack, command)
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    incident = Incident.declare(
        title="Flooding", kind="flooding", districts=["westbay"], declared_by="cmd-wu"
    )
    shown, revised = (
        _summary(incident, 120, drafted_by="press-li"),
        _summary(incident, 80, drafted_by="press-li"),
    )
    await repository.save(incident, shown, revised)

    page = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(page, f"{stack.url}/press", command)
    row = page.locator(f"#notices tr[data-id='{shown.id}']")
    await expect(row).to_have_attribute("data-state", "draft", timeout=5_000)
    await row.locator("details summary").click()  # command reads the whole text first
    await expect(row.locator("details")).to_contain_text(
        "120 reports about this incident have been received."
    )
    await expect(row.locator("details")).to_contain_text("本事件共受理群众诉求120件。")
    await row.get_by_role("button", name="批准 Approve").click()
    await expect(row).to_have_attribute("data-state", "approved", timeout=5_000)
    await expect(row.get_by_role("status")).to_have_text(  # in words, not "approve ✓"; at the row, not the page's top
        "处置进展通报：内涝（西湾区） Progress update: Flooding (Westbay): 已批准 approved"
    )

    # The press revises the other draft: the page hears of it and shows the new text, and Approve names that.
    other = page.locator(f"#notices tr[data-id='{revised.id}']")
    await expect(other).to_have_attribute("data-state", "draft")
    revised.revise(title_en="Progress update: Flooding (Westbay)", title_zh="处置进展通报：内涝（西湾区）",
                   body_en="90 reports.", body_zh="共90件。", status="investigating", revised_by="press-li")  # fmt: skip
    await repository.save(revised)
    await expect(other.locator("details")).to_contain_text("90 reports.", timeout=5_000)
    await other.get_by_role("button", name="批准 Approve").click()
    await expect(other).to_have_attribute("data-state", "approved", timeout=5_000)
    await page.screenshot(path=shots / "01-revised-text-approved.png", full_page=True)
    stored = await repository.get(revised.id, Notice)
    assert stored.state == "approved" and stored.body_en == "90 reports."
    await page.close()
