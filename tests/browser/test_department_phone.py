"""The department page on a clerk's phone (390x844) and a tablet (820x1180), with a screen reader's and a keyboard's
needs, in headless Chromium against the real API and projector.

A review on a phone found: Accept said its outcome only at the top of the page, 4500 px above the row tapped (and
"may have been recorded: press it again" as far), the button neither disabled nor saying it was sending; the focus
thrown to the page's body by every 15 s refresh, the next Tab going elsewhere; and the Note form opened below the
whole queue, 6000 px away, Escape doing nothing and Cancel leaving the focus nowhere. Answers the real server gives
only slowly or in an outage are the page's input, given with page.route; the server stays real. Screenshots under
test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from events.complaint import Complaint
from events.complaint_rules import Status
from tests.browser.conftest import Stack, box_of
from tests.browser.test_board_pages import ready, sign_in
from tests.browser.test_department_bulk import outage
from tests.browser.test_department_clerk import new_case, repository_of
from tests.support.waiting import wait_until_async

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
QUEUE = "/api/v1/departments/power/queue"


async def touch_screen(stack: Stack, browser: Any, token: str, viewport: dict[str, int] = PHONE) -> Any:
    """A touch screen, signed in to the department page."""
    page = await browser.new_page(viewport=viewport, is_mobile=True, has_touch=True)
    await sign_in(page, f"{stack.url}/department", token)
    return page


async def seeded(stack: Stack, nc: Any, n: int, *, accepted: bool = False) -> list[Complaint]:
    """`n` cases with the Power Supply Bureau, most urgent first (as the queue lists them), signed for or not."""
    await ready(stack, await stack.token("command"))
    cases = [new_case(f"停电 no power, street {i}", hours=0.5 + i / 10) for i in range(n)]
    for case in cases if accepted else []:
        case.accept("power")
    await repository_of(stack, nc).save(*cases)
    return cases


async def assert_in_viewport(page: Any, locator: Any, what: str) -> dict[str, float]:
    """The whole of `locator` on the screen, not scrolled off above or below."""
    box = await box_of(locator, what)
    size = page.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (what, box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (what, box, size)
    return box


async def drawn_again(row: Any, reads: int) -> None:
    """The page drew the queue from read `reads` or a later one (the queue route marks each read on `row`)."""

    async def drawn() -> bool:
        text = await row.locator("td").nth(4).inner_text()
        return "read " in text and int(text.split("read ")[1].split()[0]) >= reads

    await wait_until_async(drawn, f"the queue drawn from read {reads}")


class Held:
    """A request the page sent, held until released: what the page shows while the answer is on its way."""

    def __init__(self) -> None:
        self.routes: list[Any] = []
        self.released = asyncio.Event()

    async def __call__(self, route: Any) -> None:
        self.routes.append(route)
        await self.released.wait()
        await route.continue_()


async def test_accept_on_a_phone_says_sending_then_its_outcome_at_the_row(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    power = await stack.token("department:power")
    cases = await seeded(stack, nc, 12)
    page = await touch_screen(stack, browser, power)
    row = page.locator(f"#queue tr[data-id='{cases[8].id}']")
    accept = row.locator("[data-action=accept]")
    await expect(accept).to_be_visible(timeout=BOUND_MS)

    held = Held()
    await page.route(f"**/api/v1/complaints/{cases[8].id}/accept", held)
    await accept.tap()
    await expect(accept).to_be_disabled()
    await expect(accept).to_have_text("签收中… Accepting…")
    await assert_in_viewport(page, accept, "the button tapped")
    tapped = await box_of(row, "the row tapped")
    await page.screenshot(path=shots / "01-accepting.png")
    await accept.tap(force=True)  # pressed again while it is on its way: sent once
    held.released.set()

    # Signed for, the case goes down the queue (by its resolve-by): where the clerk tapped, a line says what came
    # of it and where the case went.
    await expect(row).to_have_attribute("data-status", "accepted", timeout=BOUND_MS)
    line = page.locator(f"#queue tr[data-moved='{cases[8].id}']")
    said = line.get_by_role("status")
    await expect(said).to_have_text(f"{cases[8].tracking_code}: 已签收 accepted", timeout=BOUND_MS)
    await expect(line).to_contain_text("now number 12 in the list, by its deadline")
    box = await assert_in_viewport(page, said, "the outcome")
    where = (tapped["y"] - 50, tapped["y"] + tapped["height"])
    assert where[0] < box["y"] < where[1], (box, tapped)  # where the row was, not at the top of the page
    await expect(page.locator("#message")).to_be_empty()  # said once, where the clerk is
    await expect(row.locator("[data-note-for]")).to_be_empty()  # not said again where the case went
    await page.screenshot(path=shots / "02-accepted-said-where-tapped.png")
    await line.get_by_role("link", name="查看 Show it").tap()
    await assert_in_viewport(page, row.locator("[data-action=resolve]"), "the case, further down")
    await page.screenshot(path=shots / "03-the-case-further-down.png")
    assert len(held.routes) == 1
    assert (await repository_of(stack, nc).get(cases[8].id, Complaint)).status == Status.ACCEPTED

    # Offline: the answer never comes. The row says it may not be recorded, and its button works again.
    other = page.locator(f"#queue tr[data-id='{cases[10].id}']")
    await page.route(
        f"**/api/v1/complaints/{cases[10].id}/accept", lambda route: route.abort("internetdisconnected")
    )
    await other.locator("[data-action=accept]").tap()
    said = other.get_by_role("status")
    await expect(said).to_contain_text("可能已记录，尚未确认", timeout=BOUND_MS)
    await expect(said).to_contain_text("May have been recorded, not confirmed: press it again")
    await expect(other.locator("[data-action=accept]")).to_be_enabled()
    await expect(other.locator("[data-action=accept]")).to_have_text("签收 Accept")
    await assert_in_viewport(page, said, "the offline outcome")
    await expect(page.locator("#message")).to_be_empty()
    await page.screenshot(path=shots / "04-offline-at-the-row.png")
    await page.close()


async def test_keyboard_focus_on_a_rows_button_survives_the_queue_refresh(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    power = await stack.token("department:power")
    cases = await seeded(stack, nc, 6)
    reads: list[int] = []
    escalate = asyncio.Event()

    # Each read of the queue marks the first case's description, so the test knows the page drew it; then the focused
    # row's own case changes (escalated), so that row is drawn anew.
    async def queue(route: Any) -> None:
        answer = await route.fetch()
        body = await answer.json()
        reads.append(len(reads) + 1)
        for item in body["items"]:
            if item["id"] == str(cases[0].id):
                item["description"] = f"read {len(reads)}"
            if item["id"] == str(cases[3].id) and escalate.is_set():
                item["escalation_level"] = 1
        await route.fulfill(response=answer, json=body)

    page = await browser.new_page(viewport=PHONE)
    await page.clock.install()
    await page.route(f"**{QUEUE}", queue)
    await sign_in(page, f"{stack.url}/department", power)
    row = page.locator(f"#queue tr[data-id='{cases[3].id}']")
    accept = row.locator("[data-action=accept]")
    await expect(accept).to_be_visible(timeout=BOUND_MS)
    await accept.focus()

    first = page.locator(f"#queue tr[data-id='{cases[0].id}']")
    for _ in range(2):  # the 15 s refetch, twice: the rows drawn again each time
        drawn = len(reads) + 1
        await page.clock.fast_forward(15_000)
        await drawn_again(first, drawn)
        await expect(accept).to_be_focused()
    await page.keyboard.press("Tab")  # on to the next control of the same row, not elsewhere
    await expect(row.locator("[data-action=return]")).to_be_focused()

    # The focused row's case changed: its row is drawn anew, the focus on the same control of it.
    escalate.set()
    drawn = len(reads) + 1
    await page.clock.fast_forward(15_000)
    await drawn_again(first, drawn)
    await expect(row.locator("[data-tag=escalated]")).to_be_visible()
    await expect(row.locator("[data-action=return]")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(accept).to_be_focused()
    await page.screenshot(path=shots / "01-focus-kept.png")
    await page.unroute_all(behavior="ignoreErrors")
    await page.close()


async def test_note_opens_under_its_row_and_escape_or_cancel_give_the_focus_back(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    power = await stack.token("department:power")
    cases = await seeded(stack, nc, 6, accepted=True)
    page = await touch_screen(stack, browser, power)
    row = page.locator(f"#queue tr[data-id='{cases[3].id}']")
    note = row.locator("[data-action=progress]")
    await expect(note).to_be_visible(timeout=BOUND_MS)
    await note.focus()
    await page.keyboard.press("Enter")

    # Right under the row, the row's buttons still in view: the clerk keeps their place.
    form = page.locator(f"#queue tr[data-id='{cases[3].id}'] + tr.editor #action")
    await expect(form).to_be_visible()
    await expect(form.locator("#action-title")).to_contain_text(cases[3].tracking_code)
    await expect(page.locator("#action-text")).to_be_focused()
    await expect(note).to_have_attribute("aria-expanded", "true")
    button = await assert_in_viewport(page, note, "the Note button")
    opened = await assert_in_viewport(page, page.locator("#action-text"), "the note's text box")
    assert 0 < opened["y"] - button["y"] < 300, (opened, button)
    await page.screenshot(path=shots / "01-note-under-its-row.png")

    await page.keyboard.press("Escape")
    await expect(page.locator("#action")).to_be_hidden()
    await expect(note).to_be_focused()
    await expect(note).to_have_attribute("aria-expanded", "false")
    await page.keyboard.press("Tab")  # on along the same row
    await expect(row.locator("[data-action=progress_public]")).to_be_focused()

    # Cancel, by keyboard: the focus goes back to the button too.
    await note.focus()
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name="取消 Cancel").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#action")).to_be_hidden()
    await expect(note).to_be_focused()

    # Written and submitted: the form closes, its outcome said at the row, once, the focus on Note again.
    await page.keyboard.press("Enter")
    await page.keyboard.type("Crew at the substation")
    await page.get_by_role("button", name="提交 Submit").focus()
    await page.keyboard.press("Enter")
    said = row.get_by_role("status")
    await expect(said).to_have_text(f"{cases[3].tracking_code}: 已记录进展 progress noted", timeout=BOUND_MS)
    await expect(page.locator("#action")).to_be_hidden()
    await expect(note).to_be_focused()
    await assert_in_viewport(page, said, "the note's outcome")
    await expect(page.locator("#message")).to_be_empty()
    await page.screenshot(path=shots / "02-noted-at-the-row.png")

    # Resolved, the case leaves the queue: a line where it was says so, and the focus is on it.
    await row.locator("[data-action=resolve]").focus()
    await page.keyboard.press("Enter")
    await page.keyboard.type("Cable spliced, supply back")
    await page.get_by_role("button", name="提交 Submit").focus()
    await page.keyboard.press("Enter")
    await expect(row).to_have_count(0, timeout=BOUND_MS)
    gone = page.locator(f"#queue tr[data-gone='{cases[3].id}'] [role=status]")
    await expect(gone).to_have_text(f"{cases[3].tracking_code}: 已办结 resolved")
    await expect(gone).to_be_focused()
    await assert_in_viewport(page, gone, "the line where the case was")
    await page.screenshot(path=shots / "03-resolved-line-where-it-was.png")
    await page.close()


async def test_accept_all_on_a_tablet_says_sending_then_its_outcome_at_the_incident(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    power = await stack.token("department:power")
    await ready(stack, await stack.token("command"))
    incident, _ = await outage(repository_of(stack, nc))
    page = await touch_screen(stack, browser, power, TABLET)
    row = page.locator(f"#incidents tr[data-incident='{incident.id}']")
    accept_all = row.get_by_role("button", name="全部签收 Accept all")
    await expect(accept_all).to_be_visible(timeout=BOUND_MS)

    held = Held()
    await page.route(f"**/api/v1/incidents/{incident.id}/department-actions", held)
    await accept_all.focus()
    await page.keyboard.press("Enter")
    sending = row.locator("[data-bulk=accept]")
    await expect(sending).to_have_text("全部签收中… Accepting all…")
    await expect(sending).to_be_disabled()
    await expect(sending).to_be_focused()
    await expect(row.locator("[data-bulk=resolve]")).to_be_disabled()  # one bulk action at a time
    await page.screenshot(path=shots / "01-accepting-all.png")
    held.released.set()

    said = row.get_by_role("status")
    await expect(said).to_contain_text(f"{incident.title}: 已签收 30 件 — 30 accepted", timeout=BOUND_MS)
    await expect(row.locator("[data-count=accepted]")).to_have_text("30", timeout=BOUND_MS)
    await assert_in_viewport(page, said, "the outcome of Accept all")
    await expect(page.locator("#message")).to_be_empty()
    # Nothing left to accept: the focus on the row's other button, not thrown to the page's body.
    await expect(row.locator("[data-bulk=resolve]")).to_be_focused()
    await page.screenshot(path=shots / "02-accepted-all-at-the-incident.png")
    await page.close()
