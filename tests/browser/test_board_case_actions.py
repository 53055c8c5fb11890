"""The case panel on the command board, in headless Chromium against the real API and projector: command staff
open a case from a row of the board and act on it there, not with curl. A command-queue case is dispatched to a
department (a double click sends one command); a department that returned a case is marked, refused without the
overrule box and taken with it; a complaint triage rejected (无效) is listed and reinstated with a category; and
all of it can be done from the keyboard alone. The stack runs no workers: the cases are put in their states by
writing the events the triage and dispatch workers would. Screenshots go under test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.reference import COMMAND_QUEUE, load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.dispatch.command_queue import with_command_queue
from tests.browser.conftest import Stack
from tests.browser.test_board_extensions import case, case_when, kinds
from tests.browser.test_board_pages import TRAPPED, post, ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
SHOWN_MS = 5_000  # the board and the panel show what the projector has; two shared cores run this
VAGUE = {
    "channel": "app",
    "description": "不好 very bad, fix it",
    "location": {"district": "riverside"},
}  # fmt: skip
RETURNED_BECAUSE = "不归我们 not ours: the water comes from the river, not a drain"
# What a panel must not do at any width: run past the dialog's edge (a cut-off button or line).
SIDEWAYS = "(node) => node.scrollWidth - node.clientWidth"


async def assessed(stack: Stack, store: JetStreamEventStore, *, late: bool = False) -> Complaint:
    """A P1 complaint as triage leaves it (valid, assessed), not saved yet. `late`: its accept-by already passed."""
    complaint_id = UUID((await post(stack, "/api/v1/complaints", TRAPPED))["id"])
    complaint = await AggregateStore(store, make_mapper()).get(complaint_id, Complaint)
    now = datetime.now(UTC) - (timedelta(minutes=30) if late else timedelta())
    complaint.validate(by="triage")
    factors = [{"name": "danger_to_life", "weight": 0.5, "value": 1, "evidence": "trapped"}]
    complaint.assess_priority(92, "P1", factors, now + timedelta(minutes=15), now + timedelta(hours=4))
    return complaint


async def in_command_queue(
    stack: Stack, store: JetStreamEventStore, *, returned_by: str | None = None
) -> UUID:
    """A P1 case dispatch could not route (or whose department, `returned_by`, returned it): in the command
    queue, as the triage and dispatch workers would have written it."""
    complaint = await assessed(stack, store)
    if returned_by is not None:
        complaint.dispatch(returned_by, by="dispatch", reason="routed by category")
        complaint.return_dispatch(returned_by, RETURNED_BECAUSE)
    reference = with_command_queue(load_reference(), COMMAND_QUEUE)
    complaint.dispatch(COMMAND_QUEUE, by="dispatch", reason="no route", reference=reference)
    await AggregateStore(store, make_mapper()).save(complaint)
    return complaint.id


async def overdue(stack: Stack, store: JetStreamEventStore) -> UUID:
    """A P1 case past its accept-by that nobody was sent: overdue."""
    complaint = await assessed(stack, store, late=True)
    await AggregateStore(store, make_mapper()).save(complaint)
    return complaint.id


async def signed_in_board(
    stack: Stack, browser: Any, token: str, width: int = 1400, height: int = 1300
) -> Any:
    board = await browser.new_page(viewport={"width": width, "height": height}, timezone_id="Asia/Shanghai")
    await sign_in(board, f"{stack.url}/board", token)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    return board


def commands_sent(board: Any, action: str) -> list[str]:
    """The URLs of the `action` commands (dispatch, escalate, reinstate) the page POSTs, as it sends them."""
    sent: list[str] = []
    board.on(
        "request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith(action) else None
    )
    return sent


async def fits(panel: Any) -> None:
    """Nothing in the panel runs past its right edge."""
    assert await panel.evaluate(SIDEWAYS) <= 0, "the case panel scrolls sideways"


async def test_command_dispatches_a_command_queue_case_from_the_board(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    queued = await in_command_queue(stack, store)
    late = await overdue(stack, store)
    waiting = await case_when(stack, command, queued, lambda c: c["department"] == COMMAND_QUEUE)
    code = waiting["tracking_code"]

    board = await signed_in_board(stack, browser, command)
    sent = commands_sent(board, "/dispatch")
    row = board.locator(f"#escalated tr[data-id='{queued}'][data-queue=true]")
    await expect(row).to_be_visible(timeout=SHOWN_MS)

    # An overdue row opens its case too, and Escape closes it, the keyboard back on the row's code.
    late_row = board.locator(f"#overdue tr[data-id='{late}'] button.open-case")
    await expect(late_row).to_be_visible(timeout=SHOWN_MS)
    await late_row.click()
    panel = board.locator("dialog#case")
    await expect(panel).to_be_visible()
    await expect(panel.locator(".case-facts")).to_contain_text("未派单 not dispatched", timeout=SHOWN_MS)
    await expect(panel.locator("#case-dispatch-title")).to_have_text("派单 Dispatch")
    await board.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(late_row).to_be_focused()

    await row.locator("td.why").click()  # anywhere on the row
    await expect(panel).to_be_visible()
    await expect(panel.locator("#case-title")).to_have_text(f"工单 {code} case")
    facts = panel.locator(".case-facts")
    await expect(facts).to_contain_text("已派单 dispatched", timeout=SHOWN_MS)
    await expect(facts).to_contain_text("指挥部队列 Command queue")
    await expect(facts).to_contain_text("内涝积水 Flooding")
    await expect(panel.locator(".case-description")).to_contain_text("two elderly people trapped upstairs")
    await expect(panel.locator(".case-timeline li").last).to_contain_text(
        "派给 指挥部队列 Command queue dispatched：no route"
    )
    await expect(panel.locator("#case-dispatch-title")).to_have_text("改派 Re-dispatch")
    await expect(panel.locator("#case-escalate")).to_be_visible()
    await expect(panel.locator("#case-reinstate")).to_be_hidden()  # not rejected

    # A reason is required: said in words, nothing sent.
    await panel.get_by_label("派给部门 To department").select_option("power")
    await panel.locator("#case-dispatch-submit").click()
    await expect(panel.locator("#case-dispatch-message")).to_have_text("派单须写明理由 a reason is required")
    await expect(panel.locator("#case-dispatch-reason")).to_be_focused()
    assert sent == []
    await panel.locator("#case-dispatch-reason").fill(
        "变电站水浸 the substation is flooded: power must cut it first"
    )
    await board.screenshot(path=shots / "01-panel-1400.png")
    await fits(panel)

    await panel.locator("#case-dispatch-submit").dblclick()
    await expect(panel.locator("#case-message")).to_have_text(
        f"{code}: 已派给 供电局 Power Supply Bureau dispatched", timeout=SHOWN_MS
    )
    sent_to = await case_when(stack, command, queued, lambda c: c["department"] == "power")
    assert sent_to["status"] == "dispatched"
    assert [d["department"] for d in kinds(sent_to, "ComplaintDispatched")] == [COMMAND_QUEUE, "power"]  # one
    assert len(sent) == 1 and sent[0].endswith(f"/complaints/{queued}/dispatch"), sent
    # The panel shows the case as it is now, and the row leaves the command queue on the board behind it.
    await expect(facts).to_contain_text("供电局 Power Supply Bureau", timeout=SHOWN_MS)
    await expect(panel.locator(".case-timeline li").last).to_contain_text("派给 供电局 Power Supply Bureau")
    await expect(panel.locator("#case-department option[value=power]")).to_be_disabled()  # it has it now
    await expect(row).to_have_count(0, timeout=SHOWN_MS)
    await board.screenshot(path=shots / "02-dispatched.png")
    await panel.get_by_role("button", name="关闭 Close").click()
    await expect(panel).to_be_hidden()
    await expect(board.locator("#h-command")).to_be_focused()  # the row is gone: its list's heading
    await board.close()


async def test_a_department_that_returned_the_case_is_marked_and_needs_the_overrule(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    returned = await in_command_queue(stack, store, returned_by="drainage")
    await case_when(stack, command, returned, lambda c: c["department"] == COMMAND_QUEUE)

    board = await signed_in_board(stack, browser, command, width=390, height=844)  # a phone
    sent = commands_sent(board, "/dispatch")
    opener = board.locator(f"#escalated tr[data-id='{returned}'] button.open-case")
    await expect(opener).to_be_visible(timeout=SHOWN_MS)
    await opener.click()
    panel = board.locator("dialog#case")
    drainage = panel.locator("#case-department option[value=drainage]")
    await expect(drainage).to_have_attribute("data-returned", "true", timeout=SHOWN_MS)
    await expect(drainage).to_have_text("排水管理处 Drainage Services（已退单 returned it）")
    await expect(panel.locator("#case-department option[data-returned]")).to_have_count(1)
    await expect(panel.locator("#case-returns")).to_have_text(
        f"已退单 Returned by: 排水管理处 Drainage Services（{RETURNED_BECAUSE}）"
    )
    overrule = panel.get_by_label("仍派给该部门（推翻退单） Send anyway (overrule the return)")
    await expect(overrule).to_be_hidden()  # only once a department that returned it is chosen
    await board.screenshot(path=shots / "01-phone-panel-top.png")
    await fits(panel)

    await panel.get_by_label("派给部门 To department").select_option("drainage")
    await expect(overrule).to_be_visible()
    await expect(overrule).not_to_be_checked()
    await panel.locator("#case-dispatch-reason").fill(
        "河堤已修复，积水由排水处抽排 the river wall is mended; pumping is theirs"
    )
    await panel.locator("#case-dispatch-submit").click()
    refused = panel.locator("#case-dispatch-message")
    await expect(refused).to_contain_text(
        "派单失败 not dispatched — 该部门已退回此工单：请选其他部门，或勾选“仍派给该部门”并说明理由 "
        'that department returned the case: choose another, or tick "send anyway" and give the reason (422)',
        timeout=SHOWN_MS,
    )
    await expect(refused).to_have_class("message error")
    await expect(overrule).to_be_focused()
    await refused.scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-phone-refused.png")
    await fits(panel)
    assert (await case(stack, command, returned))["department"] == COMMAND_QUEUE  # nothing was stored
    assert len(sent) == 1

    await overrule.check()
    await panel.locator("#case-dispatch-submit").click()
    await expect(panel.locator("#case-message")).to_contain_text(
        "已派给 排水管理处 Drainage Services dispatched（推翻退单 return overruled）", timeout=SHOWN_MS
    )
    back = await case_when(stack, command, returned, lambda c: c["department"] == "drainage")
    assert [d["department"] for d in kinds(back, "ComplaintDispatched")] == [
        "drainage",
        COMMAND_QUEUE,
        "drainage",
    ]
    assert len(sent) == 2
    await expect(panel.locator(".case-facts")).to_contain_text(
        "排水管理处 Drainage Services", timeout=SHOWN_MS
    )
    await expect(panel.locator("#case-message")).to_be_in_viewport()  # not under the panel's sticky head
    await board.screenshot(path=shots / "03-phone-overruled.png")
    await board.close()


async def test_command_opens_a_case_and_escalates_it_with_the_keyboard_alone(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    queued = await in_command_queue(stack, store)
    await case_when(stack, command, queued, lambda c: c["department"] == COMMAND_QUEUE)

    board = await signed_in_board(stack, browser, command)
    sent = commands_sent(board, "/escalate")
    opener = board.locator(f"#p1-list li[data-id='{queued}'] button.open-case")
    await expect(opener).to_be_visible(timeout=SHOWN_MS)
    for _ in range(80):  # Tab through the page to the case's code in the newest P1 list
        if await opener.evaluate("(button) => button === document.activeElement"):
            break
        await board.keyboard.press("Tab")
    await expect(opener).to_be_focused()
    await board.keyboard.press("Enter")
    panel = board.locator("dialog#case")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_role("button", name="关闭 Close")).to_be_focused()
    await expect(panel.locator("#case-level option")).to_have_count(2, timeout=SHOWN_MS)  # level 1 or 2

    # Close, department, reason, Re-dispatch, then the escalation's level and reason.
    for _ in range(3):
        await board.keyboard.press("Tab")
    await expect(panel.locator("#case-dispatch-submit")).to_be_focused()
    await board.keyboard.press("Tab")
    await expect(panel.get_by_label("督办级别 Level")).to_be_focused()
    await board.keyboard.press("ArrowDown")  # level 2: command
    await expect(panel.get_by_label("督办级别 Level")).to_have_value("2")
    await board.keyboard.press("Tab")
    await board.keyboard.type("媒体曝光 on the evening news")
    await board.keyboard.press("Tab")
    await expect(panel.locator("#case-escalate-submit")).to_be_focused()
    await board.screenshot(path=shots / "01-keyboard-escalate.png")
    answer = asyncio.Event()  # the API's answer is held until Enter has been pressed twice

    async def held(route: Any) -> None:
        await answer.wait()
        await route.continue_()

    await board.route("**/escalate", held)
    await board.keyboard.press("Enter")
    sending = panel.locator("#case-escalate-submit")
    await expect(sending).to_have_text("督办中… Escalating…")
    await expect(sending).to_be_focused()  # out, and still where the keyboard is
    await board.keyboard.press("Enter")  # pressed again while it is out: nothing more is sent
    answer.set()
    await expect(panel.locator("#case-message")).to_contain_text(
        "已2级督办 escalated to level 2", timeout=SHOWN_MS
    )
    await expect(
        panel.locator("#case-message")
    ).to_be_focused()  # the keyboard is told, and stays in the panel
    escalated = await case_when(stack, command, queued, lambda c: c["escalation_level"] == 2)
    assert len(sent) == 1, sent
    assert [e["detail"]["reason"] for e in kinds(escalated, "ComplaintEscalated")] == [
        "媒体曝光 on the evening news"
    ]
    # At level 2 there is no higher level: the escalation form goes once the panel has the case as it is now.
    await expect(panel.locator("#case-escalate")).to_be_hidden(timeout=SHOWN_MS)
    await expect(panel.locator(".case-facts")).to_contain_text("2级督办 level 2")
    await board.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(opener).to_be_focused()  # back where the keyboard was
    await board.close()


async def rejected_by_triage(stack: Stack, store: JetStreamEventStore) -> UUID:
    """A complaint triage read as having no clear facts (无效), as the triage worker would have written it."""
    complaint_id = UUID((await post(stack, "/api/v1/complaints", VAGUE))["id"])
    repository = AggregateStore(store, make_mapper())
    complaint = await repository.get(complaint_id, Complaint)
    complaint.reject("no clear facts", by="triage")
    await repository.save(complaint)
    return complaint_id


async def test_command_reinstates_a_complaint_triage_rejected_with_a_category(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    rejected = await rejected_by_triage(stack, store)
    code = (await case_when(stack, command, rejected, lambda c: c["status"] == "rejected"))["tracking_code"]

    board = await signed_in_board(stack, browser, command)
    sent = commands_sent(board, "/reinstate")
    row = board.locator(f"#rejected tr[data-id='{rejected}']")
    await expect(row).to_be_visible(timeout=SHOWN_MS)
    await expect(row.locator("td.code")).to_have_text(code)
    await expect(row.locator("td.why")).to_have_text("no clear facts")
    await expect(row.locator("td.excerpt")).to_contain_text("不好 very bad, fix it")
    await expect(row).to_contain_text("应用 app")
    await expect(row).to_contain_text("河畔区 Riverside")
    await expect(board.locator("#rejected-note")).to_contain_text("1 in the last 24 h, newest first")
    await board.locator("#h-rejected").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-rejected-list.png")
    await board.set_viewport_size({"width": 390, "height": 844})
    await board.locator("#h-rejected").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02-rejected-list-phone.png")
    await board.set_viewport_size({"width": 1400, "height": 1300})

    await row.locator("td.excerpt").click()
    panel = board.locator("dialog#case")
    await expect(panel.locator(".case-facts")).to_contain_text("无效 rejected", timeout=SHOWN_MS)
    await expect(panel.locator(".case-timeline li").last).to_contain_text("判为无效 rejected：no clear facts")
    await expect(panel.locator("#case-reinstate")).to_be_visible()
    await expect(panel.locator("#case-dispatch")).to_be_hidden()  # not open: nothing to dispatch or escalate
    await expect(panel.locator("#case-escalate")).to_be_hidden()
    # The report names no category and dispatch routes by one: the page asks for it before sending anything.
    await panel.locator("#case-reinstate-reason").fill(
        "有具体地点与事实 it names the lane and the fallen trees"
    )
    await panel.get_by_role("button", name="恢复受理 Reinstate").click()
    await expect(panel.locator("#case-reinstate-message")).to_contain_text(
        "choose the category: the report names none, and dispatch routes by it"
    )
    await expect(panel.get_by_label("类别 Category")).to_be_focused()
    assert sent == []
    await panel.get_by_label("类别 Category").select_option("fallen_tree")
    await board.screenshot(path=shots / "03-reinstate-panel.png")
    await fits(panel)

    await panel.get_by_role("button", name="恢复受理 Reinstate").dblclick()
    await expect(panel.locator("#case-message")).to_have_text(
        f"{code}: 已恢复受理，交分诊评估 reinstated: triage scores it next（类别 category: 树木倒伏 Fallen tree）",
        timeout=SHOWN_MS,
    )
    taken = await case_when(stack, command, rejected, lambda c: c["status"] == "validated")
    assert taken["category"] == "fallen_tree"
    assert [r["detail"]["reason"] for r in kinds(taken, "ComplaintReinstated")] == [
        "有具体地点与事实 it names the lane and the fallen trees"
    ]
    assert len(sent) == 1 and sent[0].endswith(f"/complaints/{rejected}/reinstate"), sent
    # The panel shows it open again (command may dispatch it at once); the rejected list no longer has it.
    await expect(panel.locator(".case-facts")).to_contain_text("已核实 validated", timeout=SHOWN_MS)
    await expect(panel.locator("#case-dispatch")).to_be_visible()
    await expect(panel.locator("#case-reinstate")).to_be_hidden()
    await expect(row).to_have_count(0, timeout=SHOWN_MS)
    await expect(board.locator("#rejected")).to_contain_text("暂无判为无效的投诉 nothing rejected lately")
    await board.screenshot(path=shots / "04-reinstated.png")
    await panel.get_by_role("button", name="关闭 Close").click()

    # Another officer reinstated it while this panel showed it rejected: the refusal says so in words, with what
    # the case is now, and the panel shows it as it is (nothing left to reinstate).
    raced = await rejected_by_triage(stack, store)
    raced_code = (await case_when(stack, command, raced, lambda c: c["status"] == "rejected"))[
        "tracking_code"
    ]
    await board.locator(f"#rejected tr[data-id='{raced}'] button.open-case").click(timeout=SHOWN_MS)
    await expect(panel.locator("#case-reinstate")).to_be_visible(timeout=SHOWN_MS)
    await post(
        stack,
        f"/api/v1/complaints/{raced}/reinstate",
        {"reason": "taken by the night shift", "category": "other"},
        command,
    )
    await panel.get_by_label("类别 Category").select_option("other")
    await panel.locator("#case-reinstate-reason").fill("有具体事实 it has facts")
    await panel.get_by_role("button", name="恢复受理 Reinstate").click()
    await expect(panel.locator("#case-message")).to_have_text(
        f"{raced_code}: 恢复受理失败 not reinstated — 此工单已不是无效状态（可能已被他人恢复受理），未保存 the complaint is "
        "no longer rejected (someone may have reinstated it): nothing was stored (409) — 现为：已核实 now: validated",
        timeout=SHOWN_MS,
    )
    await expect(panel.locator("#case-message")).to_have_class("message error")
    await expect(panel.locator("#case-reinstate")).to_be_hidden(timeout=SHOWN_MS)
    await expect(panel.locator(".case-facts")).to_contain_text("已核实 validated")
    await board.screenshot(path=shots / "05-reinstated-by-someone-else.png")
    await board.close()
