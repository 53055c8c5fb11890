"""What command staff did with curl during a typhoon, done on the board in headless Chromium against the real API and
projector: declaring an incident, moving its public status (resolving it only after a second, deliberate press),
adding a case to an incident from the case panel, and re-driving a dead letter once its cause is fixed. A press
repeated sends one request; a refusal (a status someone else set meanwhile, an incident merged meanwhile, a case linked
elsewhere, a retry already asked for) is said in words beside what was acted on. The stack runs no workers: cases and
dead letters are written as the workers would write them. Screenshots go under test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest

from events.reference import COMMAND_QUEUE
from events.store import JetStreamEventStore, Write
from tests.browser.conftest import Stack
from tests.browser.test_board_case_actions import commands_sent, fits, in_command_queue, signed_in_board
from tests.browser.test_board_extensions import case, case_when
from tests.browser.test_board_pages import TRAPPED, post, ready
from tests.support.waiting import wait_until_async

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
SHOWN_MS = 5_000  # the board shows what the projector has; two shared cores run this
BOARD_READ = re.compile(r"/api/v1/board$")  # the board's own refetch (not its live stream, /board/events)
# What no part of the board may do at any width: scroll the page sideways, or put a control past its card's edge
# (a card scrolls sideways by itself, with nothing to say so).
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
IN_CARD = """(node) => {
  const card = node.closest("section.card").getBoundingClientRect(), box = node.getBoundingClientRect();
  return box.left >= card.left && box.right <= card.right;
}"""


async def in_its_card(control: Any) -> None:
    assert await control.evaluate(IN_CARD), f"{await control.text_content()} runs past its card's edge"


async def get(stack: Stack, path: str, token: str) -> Any:
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.get(path, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        assert response.status == 200, (response.status, await response.text())
        return await response.json()


async def incident_when(stack: Stack, token: str, holds: Any, what: str) -> dict[str, Any]:
    """The first incident of GET /api/v1/incidents (merged ones too) that `holds`, once the read model has it."""
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        items = (await get(stack, "/api/v1/incidents?merged=true", token))["items"]
        found[:] = [i for i in items if holds(i)]
        return bool(found)

    await wait_until_async(listed, what)
    return found[0]


async def declared(stack: Stack, token: str, title: str, kind: str = "flood") -> str:
    """An incident another officer declared (through the API, as the board does)."""
    return str((await post(stack, "/api/v1/incidents", {"title": title, "kind": kind}, token))["id"])


async def holding_the_board(page: Any) -> asyncio.Event:
    """The board's refetches held back (a slow projector, a lost live stream) until the event is set, and let through
    from then on: the page acts on what it shows, as an officer does while someone else changes the same thing."""
    release = asyncio.Event()

    async def held(route: Any) -> None:
        await release.wait()
        await route.continue_()

    await page.route(BOARD_READ, held)
    return release


async def pressed_twice(page: Any, button: Any, sent_to: str, sending: str) -> None:
    """Enter pressed on `button`, and again while its request (to `sent_to`) is held out: the repeat the page must
    stop itself (Chromium fires one submit for a double click on a submit button, so a double click proves nothing)."""
    answer = asyncio.Event()

    async def held(route: Any) -> None:
        await answer.wait()
        await route.continue_()

    await page.route(sent_to, held)
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(button).to_have_text(sending)
    await expect(button).to_be_focused()  # out, and still where the keyboard is
    await page.keyboard.press("Enter")
    answer.set()


def page_errors(page: Any) -> list[str]:
    """Uncaught errors of the page's scripts, as they happen (a module that fails to load says nothing otherwise)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_command_declares_an_incident_and_resolves_it_only_when_confirmed(
    stack: Stack, browser: Any, shots: Path
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    board = await signed_in_board(stack, browser, command)
    errors = page_errors(board)
    declares, moves = commands_sent(board, "/api/v1/incidents"), commands_sent(board, "/status")

    # Folded behind its button (a wall board's height is for what needs a decision); opened, the title has the keyboard.
    opener = board.get_by_role("button", name="宣布事件… Declare an incident…")
    form = board.locator("form#declare")
    await expect(form).to_be_hidden()
    await opener.click()
    await expect(form).to_be_visible()
    await expect(opener).to_have_attribute("aria-expanded", "true")
    await expect(form.get_by_label("事件名称（公开） Title (public)")).to_be_focused()
    await form.get_by_role("button", name="宣布 Declare").click()  # nothing typed: said, nothing sent
    await expect(form.locator("#declare-message")).to_have_text("请填写事件名称 a title is required")
    await expect(form.get_by_label("事件名称（公开） Title (public)")).to_be_focused()
    await form.get_by_label("事件名称（公开） Title (public)").fill("Flooding in Old Town · 老城区内涝")
    await form.get_by_role("button", name="宣布 Declare").click()
    await expect(form.locator("#declare-message")).to_contain_text("a kind is required")
    await expect(form.get_by_label("类型 Kind")).to_be_focused()
    assert declares == []
    await form.get_by_label("类型 Kind").fill("flood")
    await form.get_by_label("老城区 Old Town").check()
    await form.get_by_label("河畔区 Riverside").check()
    # A title pasted with a control character in it: the API's 422 is said under the form, the title focused.
    await form.get_by_label("事件名称（公开） Title (public)").fill("Flooding in Old Town\x07")
    await form.get_by_role("button", name="宣布 Declare").click()
    refused = form.locator("#declare-message")
    await expect(refused).to_contain_text("未宣布 not declared — 422: ", timeout=SHOWN_MS)
    await expect(refused).to_contain_text("must not contain control characters")
    await expect(form.get_by_label("事件名称（公开） Title (public)")).to_be_focused()
    assert len(declares) == 1, declares
    await form.get_by_label("事件名称（公开） Title (public)").fill("Flooding in Old Town · 老城区内涝")
    await board.screenshot(path=shots / "01-declare-form-1400.png")

    await pressed_twice(board, form.locator("#declare-submit"), "**/api/v1/incidents", "宣布中… Declaring…")
    await expect(board.locator("#incidents-message")).to_have_text(
        "已宣布事件「Flooding in Old Town · 老城区内涝」 incident declared（老城区 Old Town、河畔区 Riverside）",
        timeout=SHOWN_MS,
    )
    await expect(form).to_be_hidden()
    await expect(opener).to_be_focused()
    flood = await incident_when(
        stack, command, lambda i: i["title"].startswith("Flooding in Old Town"), "declared"
    )
    assert (flood["kind"], sorted(flood["districts"]), flood["status"]) == (
        "flood", ["old_town", "riverside"], "investigating")  # fmt: skip
    assert len(declares) == 2, declares  # the refused one, then one for Enter pressed twice

    row = board.locator(f"#incidents tr[data-id='{flood['id']}']")
    status = row.locator("td.status")
    await expect(status).to_have_attribute("data-status", "investigating", timeout=SHOWN_MS)
    await expect(status).to_contain_text("调查中 investigating")
    # 更改… Change… opens the statuses it can move to.
    change = row.get_by_role("button", name="更改状态 Change the status", exact=False)
    dialog = board.locator("dialog#status")
    await change.click()
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#status-title")).to_have_text(
        '事件状态：Flooding in Old Town · 老城区内涝 Status of "Flooding in Old Town · 老城区内涝"'
    )
    await expect(dialog.locator("#status-now")).to_have_text("现为 now: 调查中 investigating")
    await expect(dialog.locator("#status-moves button")).to_have_text(
        ["改为 已查明 to identified", "改为 监测中 to monitoring", "宣布已解决… Resolve…"]
    )
    # The keyboard is on what it is now: an Enter pressed twice on the row's button moves nothing.
    await expect(dialog.locator("#status-now")).to_be_focused()
    await board.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    assert moves == [], moves
    await dialog.get_by_role("button", name="改为 监测中 to monitoring").dblclick()
    await expect(dialog).to_be_hidden(timeout=SHOWN_MS)
    note = board.locator(f"#incidents tr.note[data-note-for='incidents:{flood['id']}']")
    await expect(note).to_contain_text("状态已改为 监测中 status now monitoring")
    await expect(status).to_have_attribute("data-status", "monitoring", timeout=SHOWN_MS)
    await expect(status).to_contain_text("监测中 monitoring")
    await expect(change).to_be_focused()  # back on its row, drawn anew
    await incident_when(
        stack, command, lambda i: i["id"] == flood["id"] and i["status"] == "monitoring", "monitoring"
    )
    assert len(moves) == 1, moves

    # Resolving asks first, saying what it does: a double click on Resolve… only asks, and Escape sends nothing.
    await change.click()
    await expect(dialog.locator("#status-now")).to_have_text("现为 now: 监测中 monitoring")
    resolve = dialog.get_by_role("button", name="宣布已解决… Resolve…")
    question = dialog.locator("#status-resolve")
    await expect(question).to_be_hidden()
    await resolve.dblclick()
    await expect(question).to_be_visible()
    await expect(resolve).to_have_attribute("aria-expanded", "true")
    await expect(question).to_contain_text(
        "the automatic progress summaries stop and press may publish its resolution"
    )
    await board.screenshot(path=shots / "02-resolve-confirm-1400.png")
    assert len(moves) == 1, moves
    await board.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(change).to_be_focused()
    assert len(moves) == 1, moves

    await change.click()
    await expect(question).to_be_hidden()  # asked afresh each time
    await resolve.click()
    await dialog.get_by_role("button", name="确认已解决 Resolve it").click()
    await expect(dialog).to_be_hidden(timeout=SHOWN_MS)
    await expect(note).to_contain_text("状态已改为 已解决 status now resolved")
    await expect(status).to_have_attribute("data-status", "resolved", timeout=SHOWN_MS)
    await incident_when(
        stack, command, lambda i: i["id"] == flood["id"] and i["status"] == "resolved", "resolved"
    )
    assert len(moves) == 2, moves
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "03-resolved-1400.png")

    await board.set_viewport_size({"width": 390, "height": 844})  # a phone
    await opener.click()
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "04-phone-declare-form.png")
    await board.locator("#declare-cancel").click()
    await row.scroll_into_view_if_needed()
    await board.screenshot(path=shots / "05-phone-incident-row.png")
    await in_its_card(change)
    await change.click()
    await dialog.get_by_role("button", name="改为 已查明 to identified").focus()
    await board.screenshot(path=shots / "06-phone-status-dialog.png")
    await in_its_card(change)
    await board.keyboard.press("Escape")
    assert await board.evaluate(SIDEWAYS) <= 0, "the board scrolls sideways on a phone"
    assert errors == []
    await board.close()


async def test_a_status_move_someone_else_overtook_is_refused_in_words_beside_its_row(
    stack: Stack, browser: Any, shots: Path
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    water = await declared(stack, command, "Water outage in Old Town · 老城区停水", "water_outage")
    main = await declared(stack, command, "Burst main on Harbour Road · 海港路爆管", "burst_main")
    board = await signed_in_board(stack, browser, command)
    errors = page_errors(board)
    row = board.locator(f"#incidents tr[data-id='{water}']")
    await expect(row.locator("td.status")).to_have_attribute("data-status", "investigating", timeout=SHOWN_MS)
    release = await holding_the_board(board)

    # Another officer moved it to monitoring while this board still showed it investigating: the API's 422 is said in
    # the dialog and under the row, and the statuses (the field it names) have the keyboard.
    await post(stack, f"/api/v1/incidents/{water}/status", {"status": "monitoring"}, command)
    await row.get_by_role("button", name="更改状态 Change the status", exact=False).click()
    dialog = board.locator("dialog#status")
    await dialog.get_by_role("button", name="改为 监测中 to monitoring").click()
    said = dialog.locator("#status-message")
    await expect(said).to_contain_text(
        "Water outage in Old Town · 老城区停水: 状态未更改 status not changed — ", timeout=SHOWN_MS
    )
    await expect(said).to_contain_text("422")
    await expect(said).to_have_class("message error")
    await expect(dialog.locator("#status-moves button").first).to_be_focused()
    note = board.locator(f"#incidents tr.note[data-note-for='incidents:{water}']")
    await expect(note).to_contain_text("状态未更改 status not changed")

    # Then it was merged into the burst main: the 409 names the incident it went into, above the table too (its
    # row leaves the board with the merge).
    await post(stack, f"/api/v1/incidents/{water}/merge", {"into": main, "reason": "one burst main"}, command)
    await dialog.get_by_role("button", name="改为 已查明 to identified").click()
    merged = (
        "状态未更改 status not changed — 此事件已并入「Burst main on Harbour Road · 海港路爆管」，请对该事件操作 this incident was "
        'merged into "Burst main on Harbour Road · 海港路爆管": act on that one (409)'
    )
    await expect(said).to_contain_text(merged, timeout=SHOWN_MS)
    await expect(board.locator("#incidents-message")).to_contain_text(merged)
    await board.screenshot(path=shots / "01-refused-1400.png")
    await dialog.get_by_role("button", name="取消 Cancel").click()
    await expect(note).to_contain_text(merged)
    await row.scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-refused-under-the-row-1400.png")
    release.set()
    await expect(row).to_have_count(0, timeout=SHOWN_MS)  # merged: no longer on the board
    await expect(board.locator("#incidents-message")).to_contain_text(merged)
    stored = await incident_when(stack, command, lambda i: i["id"] == water, "the merged incident")
    assert stored["status"] == "monitoring", stored  # neither refused move was stored
    assert errors == []
    await board.close()


async def test_command_adds_a_case_to_an_incident_from_the_case_panel(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    flood = await declared(stack, command, "Flooding in Harbourfront · 海港区内涝")
    over = await declared(stack, command, "Fallen trees in Westbay · 西湾区倒树", "fallen_tree")
    await post(stack, f"/api/v1/incidents/{over}/status", {"status": "resolved"}, command)
    queued = await in_command_queue(stack, store)
    other = await in_command_queue(stack, store)
    code = (await case_when(stack, command, queued, lambda c: c["department"] == COMMAND_QUEUE))[
        "tracking_code"
    ]
    other_code = (await case_when(stack, command, other, lambda c: c["department"] == COMMAND_QUEUE))[
        "tracking_code"
    ]
    await incident_when(stack, command, lambda i: i["id"] == over and i["status"] == "resolved", "resolved")

    board = await signed_in_board(stack, browser, command, width=390, height=844)  # a phone
    errors = page_errors(board)
    links = commands_sent(board, "/complaints")
    opener = board.locator(f"#escalated tr[data-id='{queued}'] button.open-case")
    await expect(board.locator(f"#incidents tr[data-id='{over}'] td.status")).to_have_attribute(
        "data-status", "resolved", timeout=SHOWN_MS
    )
    await opener.click()
    panel = board.locator("dialog#case")
    form = panel.locator("form#case-link")
    await expect(form).to_be_visible(timeout=SHOWN_MS)
    await expect(panel.locator(".case-facts")).to_contain_text("事件 Incident—")
    # The incidents still being handled: the resolved one is not offered.
    await expect(form.locator("#case-incident option")).to_have_text(
        ["请选择事件 choose an incident…", "Flooding in Harbourfront · 海港区内涝 · 调查中 investigating"]
    )
    await form.get_by_role("button", name="加入 Add").click()
    await expect(form.locator("#case-link-message")).to_have_text("请选择事件 choose an incident")
    await expect(form.get_by_label("事件 Incident")).to_be_focused()
    assert links == []
    await form.get_by_label("事件 Incident").select_option(flood)
    await form.scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-phone-add-to-incident.png")
    await fits(panel)

    await pressed_twice(
        board, form.locator("#case-link-submit"), "**/incidents/*/complaints", "加入中… Adding…"
    )
    await expect(panel.locator("#case-message")).to_have_text(
        f"{code}: 已加入事件「Flooding in Harbourfront · 海港区内涝」 added to the incident", timeout=SHOWN_MS
    )
    linked = await case_when(stack, command, queued, lambda c: c["incident_id"] == flood)
    assert [e["kind"] for e in linked["timeline"]].count("ComplaintLinkedToIncident") == 1
    assert len(links) == 1 and links[0].endswith(f"/incidents/{flood}/complaints"), links
    # The panel shows the case as it is now: in the incident, nothing more to add it to.
    await expect(panel.locator(".case-facts")).to_contain_text("Flooding in Harbourfront", timeout=SHOWN_MS)
    await expect(form).to_be_hidden()
    await expect(panel.locator("#case-dispatch")).to_be_visible()  # still command's to dispatch
    await board.screenshot(path=shots / "02-phone-added.png")
    await panel.get_by_role("button", name="关闭 Close").click()

    # Another officer added the other case to the incident while this panel offered it: refused in words, at the
    # top of the panel, and the panel shows the case as it is now.
    await board.set_viewport_size({"width": 1400, "height": 1300})
    await board.locator(f"#escalated tr[data-id='{other}'] button.open-case").click()
    await expect(form).to_be_visible(timeout=SHOWN_MS)
    await post(stack, f"/api/v1/incidents/{flood}/complaints", {"complaint_id": str(other)}, command)
    await form.get_by_label("事件 Incident").select_option(flood)
    await form.get_by_role("button", name="加入 Add").click()
    await expect(panel.locator("#case-message")).to_contain_text(
        f"{other_code}: 未加入事件 not added to the incident — ", timeout=SHOWN_MS
    )
    await expect(panel.locator("#case-message")).to_contain_text("409")
    await expect(panel.locator("#case-message")).to_have_class("message error")
    await expect(form).to_be_hidden(timeout=SHOWN_MS)  # reloaded: it is in the incident now
    await expect(panel.locator(".case-facts")).to_contain_text("Flooding in Harbourfront")
    await board.screenshot(path=shots / "03-added-by-someone-else-1400.png")
    await fits(panel)
    assert len(links) == 2, links
    assert (await case(stack, command, other))["incident_id"] == flood
    assert errors == []
    await board.close()


async def dead_letter(store: JetStreamEventStore, worker: str, complaint_id: UUID, error: str) -> int:
    """The record a worker writes when it sets an event aside after its tries (services/runtime/worker.py,
    _dead_letter), for the complaint's first event. Returns the dead letter's own position."""
    first = (await store.read_subject(store.spec.event_subject(complaint_id)))[0]
    record = {"worker": worker, "seq": first.seq, "subject": first.subject, "topic": first.headers.get("Levee-Topic"),
              "error": error, "attempts": 5, "at": datetime.now(UTC).isoformat()}  # fmt: skip
    [position] = await store.append(
        [Write(store.spec.dead_letter_subject(worker), json.dumps(record).encode())]
    )
    return position


async def test_command_retries_a_dead_letter_from_the_board(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    first = UUID((await post(stack, "/api/v1/complaints", TRAPPED))["id"])
    second = UUID((await post(stack, "/api/v1/complaints", TRAPPED))["id"])
    poisoned = await dead_letter(store, "triage", first, "KeyError('flooding') in the rules file")
    other = await dead_letter(store, "dispatch", second, "ValueError('no route for district None')")

    board = await signed_in_board(stack, browser, command)
    errors = page_errors(board)
    retries = commands_sent(board, "/retry")
    row = board.locator(f"#dead-letters tr[data-position='{poisoned}']")
    retry = row.get_by_role("button", name=re.compile(r"^重试 Retry: triage #\d+$"))
    await expect(retry).to_be_visible(timeout=SHOWN_MS)
    await expect(board.locator("#dead-letters-note")).to_contain_text(
        "Retry only once the cause is fixed and deployed (docs/operations.md, section 5)"
    )
    await board.locator("#h-dead").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-dead-letters-1400.png")

    await retry.dblclick()  # the cause is fixed and deployed
    note = board.locator(f"#dead-letters tr.note[data-note-for='dead-letters:{poisoned}']")
    await expect(note).to_contain_text("已请求重试，等待 triage 处理 retry requested: pending until triage handles it",
                                       timeout=SHOWN_MS)  # fmt: skip
    await expect(row.locator("td.retry")).to_have_text("等待重试 retry pending", timeout=SHOWN_MS)
    listed = {d["position"]: d for d in (await get(stack, "/api/v1/dead-letters", command))["items"]}
    assert listed[poisoned]["retry_state"] == "pending" and listed[poisoned]["retry_requested_by"], listed
    assert listed[other]["retry_state"] is None
    assert len(retries) == 1, retries  # one request for a double click

    # Someone asked for the other one meanwhile (curl, `levee deadletters retry`): refused in words under its row.
    release = await holding_the_board(board)
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.post(f"/api/v1/dead-letters/dispatch/{listed[other]['event_position']}/retry",
                  headers={"Authorization": f"Bearer {command}"}) as asked,
    ):  # fmt: skip
        assert asked.status == 202, await asked.text()
    other_row = board.locator(f"#dead-letters tr[data-position='{other}']")
    await other_row.get_by_role("button", name=re.compile(r"^重试 Retry: dispatch")).click()
    other_note = board.locator(f"#dead-letters tr.note[data-note-for='dead-letters:{other}']")
    await expect(other_note).to_contain_text("未请求重试 retry not requested — ", timeout=SHOWN_MS)
    await expect(other_note).to_contain_text("409")
    await expect(other_note.locator(".message")).to_have_class("message error")
    release.set()
    await expect(other_row.locator("td.retry")).to_have_text("等待重试 retry pending", timeout=SHOWN_MS)
    assert len(retries) == 2, retries
    await board.locator("#h-dead").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-dead-letters-pending-1400.png")
    await in_its_card(other_row.locator("td.retry"))  # the card does not scroll sideways to show it

    await board.set_viewport_size({"width": 390, "height": 844})
    await board.locator("#h-dead").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "03-phone-dead-letters.png")
    await in_its_card(row.locator("td.retry"))
    assert await board.evaluate(SIDEWAYS) <= 0, "the board scrolls sideways on a phone"
    assert errors == []
    await board.close()
