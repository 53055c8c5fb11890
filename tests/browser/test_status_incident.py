"""The public status page of a complaint that is part of an incident shows what has been published about that
incident: the answer most callers ring back for ("power back by 18:00"). Headless Chromium; screenshots under
test-output/browser/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack
from tests.browser.test_board_pages import TRAPPED, post, ready
from tests.support.notices import approval_of

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect


async def _published(
    stack: Stack, incident_id: str | None, title_en: str, title_zh: str, body_en: str
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    text = {"status": "identified", "title_en": title_en, "title_zh": title_zh, "body_en": body_en,
            "body_zh": "排水车已到场。"}  # fmt: skip
    draft = await post(stack, "/api/v1/notices", {"incident_id": incident_id, **text}, press)
    await post(stack, f"/api/v1/notices/{draft['id']}/approve", approval_of(text), command)
    await post(stack, f"/api/v1/notices/{draft['id']}/publish", {}, press)


async def test_a_complaints_status_shows_the_updates_published_about_its_incident(
    stack: Stack, browser: Any, shots: Path
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    received = await post(stack, "/api/v1/complaints", TRAPPED)
    incident = await post(stack, "/api/v1/incidents", {
        "title": "Flooding in Riverside", "kind": "flooding", "districts": ["riverside"]}, command)  # fmt: skip
    await post(
        stack, f"/api/v1/incidents/{incident['id']}/complaints", {"complaint_id": received["id"]}, command
    )
    await _published(
        stack,
        incident["id"],
        "Riverside: pumps on site",
        "河畔区：排水车已到场",
        "Two pump trucks are draining Elm Street.",
    )
    await _published(
        stack, None, "Shelters open citywide", "全市避难所开放", "All schools are open as shelters tonight."
    )

    public = await browser.new_page(viewport={"width": 1000, "height": 1100})
    await public.goto(f"{stack.url}/status/{received['tracking_code']}")
    updates = public.locator("#incident-updates")
    await expect(updates).to_be_visible(timeout=5_000)
    await expect(updates).to_contain_text("Riverside: pumps on site")
    await expect(updates).not_to_contain_text(
        "Shelters open citywide"
    )  # about no incident: listed below only
    await expect(public.locator("#notices")).to_contain_text("Shelters open citywide")
    await expect(public.locator("#notices")).not_to_contain_text("Riverside: pumps on site")  # shown once, above
    # What comes next, in words (a label alone left a resident guessing: a review of the public pages).
    await expect(public.locator("#facts")).to_contain_text("下一步 What next")
    await expect(public.locator("#facts")).to_contain_text("being assessed and passed to the department")
    page_text = await public.text_content("body") or ""
    assert "Chen Jing" not in page_text and "被困" not in page_text  # no personal data, no free text
    assert "每条公告另有 CAP 1.2 预警格式 each notice also as a CAP 1.2 alert" in page_text  # Chinese first
    await public.screenshot(path=shots / "01-status-with-incident-updates.png", full_page=True)

    alone = await post(stack, "/api/v1/complaints", {**TRAPPED, "reporter": None})
    await public.goto(f"{stack.url}/status/{alone['tracking_code']}")
    await expect(public.locator("#h-result")).to_contain_text(alone["tracking_code"], timeout=5_000)
    await expect(updates).to_be_hidden()  # in no incident: no such section
    await public.close()


async def test_a_status_link_cut_short_says_not_found_and_still_shows_the_notices(
    stack: Stack, browser: Any, shots: Path
) -> None:
    """A link pasted from a text message may lose its end ("/status/%E0"): the page must say so, not go blank."""
    command = await stack.token("command")
    await ready(stack, command)
    await _published(stack, None, "Shelters open citywide", "全市避难所开放", "All schools are open tonight.")
    public = await browser.new_page(viewport={"width": 1000, "height": 900})
    await public.goto(f"{stack.url}/status/%E0")
    await expect(public.locator("#message")).to_contain_text("No complaint with that code", timeout=5_000)
    await expect(public.locator("#notices")).to_contain_text("Shelters open citywide")
    await public.screenshot(path=shots / "01-status-link-cut-short.png", full_page=True)
    await public.close()
