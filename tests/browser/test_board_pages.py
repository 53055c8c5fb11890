"""The command board and the department page in headless Chromium, against the real API and projector.

A life-threatening complaint is submitted through the API; the board's open count and its P1 list must
change within 2 s; the department it is dispatched to accepts it on its page. Screenshots are saved under
test-output/browser/<test name>/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api import lateness
from services.runtime.tracking import WORKERS, load_tracking
from tests.browser.conftest import Stack, box_of
from tests.integration.projections.typhoon_night import typhoon_night
from tests.support.notices import approval_of

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
LIVE_BOUND_MS = 2000  # the board must show a change within this
TRAPPED = {
    "channel": "web",
    "description": "洪水进屋，两位老人被困二楼，水还在涨 — flood water inside, two elderly people trapped upstairs",
    "category": "flooding",
    "location": {"lat": 22.71, "lon": 113.79},
    "people_affected": 2,
    "vulnerable": ["elderly"],
    "reporter": {"name": "Chen Jing", "phone": "+86 139 0000 1111"},
}


async def ready(stack: Stack, token: str, bound: float = 20.0) -> None:
    """The API answers the board (the projector has created the read models) and takes complaints."""
    deadline = time.monotonic() + bound
    async with aiohttp.ClientSession(stack.url) as http:
        while True:
            async with http.get("/api/v1/board", headers={"Authorization": f"Bearer {token}"}) as board:
                async with http.get("/healthz") as health:
                    if board.status == 200 and health.status == 200:
                        return
            assert time.monotonic() < deadline, "the stack did not come up"
            await asyncio.sleep(0.1)


async def post(stack: Stack, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.post(path, json=body, headers=headers) as response,
    ):
        assert response.status in (200, 201), (response.status, await response.text())
        return await response.json()


async def assess_as_triage(stack: Stack, store: JetStreamEventStore, complaint_id: UUID) -> None:
    """What the triage worker records for this complaint: valid, P1 (danger to life, elderly)."""
    repository = AggregateStore(store, make_mapper())
    complaint = await repository.get(complaint_id, Complaint)
    now = datetime.now(UTC)
    complaint.validate(by="triage")
    complaint.assess_priority(
        92, "P1", [{"name": "danger_to_life", "weight": 0.5, "value": 1, "evidence": "trapped"},
                   {"name": "vulnerable", "weight": 0.2, "value": 1, "evidence": "elderly"}],
        now + timedelta(minutes=15), now + timedelta(hours=4),
    )  # fmt: skip
    await repository.save(complaint)


async def sign_in(page: Any, url: str, token: str) -> None:
    await page.goto(url)
    await page.get_by_label("令牌 Token").fill(token)
    await page.keyboard.press("Enter")  # keyboard only: the form submits without a mouse


async def test_board_updates_live_and_the_department_accepts_the_case(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command, drainage = await stack.token("command"), await stack.token("department:drainage")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)

    board = await browser.new_page(viewport={"width": 1400, "height": 1300})
    await sign_in(board, f"{stack.url}/board", command)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    assert await board.text_content("[data-testid=count-open]") == "0"
    await board.screenshot(path=shots / "01-board-before.png", full_page=True)

    received = await post(stack, "/api/v1/complaints", TRAPPED)
    complaint_id = UUID(received["id"])
    # Locator assertions, not wait_for_function: the pages' CSP forbids eval, and that is tested too.
    await expect(board.locator("[data-testid=count-open]")).to_have_text("1", timeout=LIVE_BOUND_MS)

    await assess_as_triage(stack, store, complaint_id)
    await board.wait_for_selector(f"#p1-list li[data-id='{complaint_id}']", timeout=LIVE_BOUND_MS)
    assert await board.text_content("[data-testid=count-P1]") == "1"
    await board.screenshot(path=shots / "02-board-p1.png", full_page=True)

    # Media picked it up: command takes it over (level 2), and the board's escalated panel says so and why.
    await post(stack, f"/api/v1/complaints/{complaint_id}/escalate",
               {"level": 2, "reason": "媒体曝光 media exposure"}, command)  # fmt: skip
    escalated = board.locator(f"#escalated tr[data-id='{complaint_id}'][data-escalation='2']")
    await expect(escalated).to_contain_text("媒体曝光 media exposure", timeout=LIVE_BOUND_MS)
    await expect(escalated).to_contain_text("2级督办")
    await expect(board.locator("[data-testid=count-escalated]")).to_have_text("1")
    await board.locator("#h-command").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "02b-board-escalated.png", full_page=True)

    await post(stack, f"/api/v1/complaints/{complaint_id}/dispatch",
               {"department": "drainage", "reason": "flood water inside homes"}, command)  # fmt: skip

    agreed = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)  # promised to the caller
    await post(stack, f"/api/v1/complaints/{complaint_id}/agreed-resolution-time",
               {"agreed_at": agreed.isoformat()}, command)  # fmt: skip

    desk = await browser.new_page(viewport={"width": 1400, "height": 700})  # a tab of its own: its own token
    await sign_in(desk, f"{stack.url}/department", drainage)
    row = desk.locator(f"#queue tr[data-id='{complaint_id}']")
    await row.and_(desk.locator("[data-status=dispatched]")).wait_for(timeout=5_000)
    # In words: "14:59" read as a clock time. P1: 15 min to accept.
    await expect(row.locator(".countdown")).to_have_text(
        re.compile(r"^签收剩余 1[45]分 1[45] min left to accept$")
    )
    await expect(row.locator("[data-tag=escalated]")).to_have_text("2级督办 escalated, level 2")
    code = await box_of(row.locator("td.code strong"), "the tracking code")
    assert code["height"] < 26, code  # one line: it broke at the hyphen
    await expect(row.locator(".agreed")).to_contain_text("约定")  # the crew sees what the caller was promised
    await expect(row.locator(".affected")).to_have_text("2 人 people · 老人 elderly")  # what the crew brings
    await desk.screenshot(path=shots / "03-department-queue.png", full_page=True)

    await row.get_by_role("button", name="签收 Accept").click()
    await desk.locator(f"#queue tr[data-id='{complaint_id}'][data-status=accepted]").wait_for(
        timeout=LIVE_BOUND_MS
    )
    # Said where the clerk pressed (at the row, or the line left where it was), not at the top of the page.
    said = desk.locator(f"#queue [data-note-for='{complaint_id}']", has_text="已签收")
    await expect(said.first).to_be_visible()
    await desk.screenshot(path=shots / "04-department-accepted.png", full_page=True)

    # The board hears about the acceptance too: the case is still open, now with drainage.
    p1_entry = board.locator(f"#p1-list li[data-id='{complaint_id}']")
    await expect(p1_entry).to_contain_text("已签收", timeout=LIVE_BOUND_MS)
    await board.screenshot(path=shots / "05-board-accepted.png", full_page=True)

    # The department's other work on the case, from its page: a public note, then more time from command.
    accepted = desk.locator(f"#queue tr[data-id='{complaint_id}'][data-status=accepted]")
    await accepted.get_by_role("button", name="公开进展 Public note").click()
    await desk.locator("#action-text").fill("Pump truck on site; water is going down.")
    await desk.get_by_role("button", name="提交 Submit").click()
    await expect(desk.locator(f"#queue [data-note-for='{complaint_id}']").first).to_contain_text(
        "public progress noted", timeout=5_000
    )
    await accepted.get_by_role("button", name="申请延期 More time").click()
    await expect(desk.locator("#action-minutes")).to_be_visible()
    await desk.locator("#action-minutes").fill("180")
    await desk.locator("#action-text").fill("Second pump needed from the depot")
    await desk.get_by_role("button", name="提交 Submit").click()
    await expect(desk.locator(f"#queue [data-note-for='{complaint_id}']").first).to_contain_text(
        "more time asked of command", timeout=5_000
    )
    await expect(accepted.get_by_role("button", name="申请延期 More time")).to_have_count(
        0, timeout=LIVE_BOUND_MS
    )
    await expect(accepted.locator("[data-tag=extension]")).to_have_text("延期待批 extension pending")
    await desk.screenshot(path=shots / "06-department-note-and-more-time.png", full_page=True)

    # On a phone the row stands as a block: its actions are on the screen, not cut off to the right.
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await sign_in(phone, f"{stack.url}/department", drainage)
    resolve = phone.locator(f"#queue tr[data-id='{complaint_id}']").get_by_role("button", name="办结 Resolve")
    await expect(resolve).to_be_in_viewport(ratio=1, timeout=5_000)  # all of it: none cut off to the right
    await phone.screenshot(path=shots / "07-department-on-a-phone.png", full_page=True)
    await phone.close()
    stored = await AggregateStore(store, make_mapper()).get(complaint_id, Complaint)
    assert [(n["text"], n["public"]) for n in stored.progress] == [
        ("Pump truck on site; water is going down.", True)
    ]
    assert stored.extension_pending is not None and stored.extension_pending["minutes"] == 180
    await desk.close()
    await board.close()


async def test_board_says_when_the_workers_are_behind_the_stream(
    stack: Stack, store: JetStreamEventStore, browser: Any, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lateness, "LATE_SECONDS", 0.0)  # any wait is late: no worker runs in this stack
    command = await stack.token("command")
    await ready(stack, command)
    await post(stack, "/api/v1/complaints", TRAPPED)
    board = await browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in(board, f"{stack.url}/board", command)
    late = board.locator("#late")
    await expect(late.locator("[data-reader=triage]")).to_be_visible(timeout=10_000)
    await expect(late.locator("[data-reader=dispatch]")).to_be_visible()
    said = await late.text_content() or ""
    assert "数据延迟 Running behind" in said
    assert "分诊落后" in said and "behind" in said and "updates not processed" in said
    assert "新工单尚无优先级 new complaints have no priority yet" in said
    assert "新工单尚未派给部门 new complaints are not with a department yet" in said
    await board.screenshot(path=shots / "01-workers-behind.png")

    last = await store.last_sequence()
    for worker in WORKERS:  # they catch up
        await store.append([(await load_tracking(store, worker)).advance_to(store, last)])
    await board.reload()  # the token is kept for the session
    await expect(board.locator("#totals")).not_to_be_empty(timeout=10_000)
    await expect(late).to_be_hidden(timeout=10_000)  # the projector, in this stack, has caught up too
    await board.screenshot(path=shots / "02-caught-up.png")
    await board.close()


async def test_board_shows_when_it_is_disconnected_and_reconnects_by_itself(
    stack: Stack, browser: Any, shots: Path
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    board = await browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in(board, f"{stack.url}/board", command)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)

    await stack.stop_api()
    await board.wait_for_selector("#conn[data-state=disconnected]", timeout=3_000)
    assert "已断开" in (await board.text_content("#conn") or "")
    assert "disconnected" in (await board.text_content("#conn") or "")
    await board.screenshot(path=shots / "01-disconnected.png")

    await stack.start_api()
    await board.wait_for_selector("#conn[data-state=live]", timeout=15_000)
    await board.screenshot(path=shots / "02-reconnected.png")
    await ready(stack, command)  # NATS reconnected too, before the stack is stopped
    await board.close()


async def test_a_board_reloaded_while_its_token_cannot_be_checked_keeps_it_and_comes_back_by_itself(
    stack: Stack, browser: Any, shots: Path
) -> None:
    """A wall board reloaded during an API restart or a PostgreSQL outage must not forget its token: nobody may
    be at hand to paste it again. A token the API refuses (401) is still forgotten."""
    command = await stack.token("command")
    await ready(stack, command)
    board = await browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in(board, f"{stack.url}/board", "not-a-token")
    message = board.locator("#login-message")
    await expect(message).to_contain_text("Token refused 令牌无效: 401", timeout=5_000)
    await sign_in(board, f"{stack.url}/board", command)
    await expect(board.locator("#main")).to_be_visible(timeout=10_000)

    checks = 0

    async def unreachable(route: Any) -> None:  # the API does not answer the token check, once
        nonlocal checks
        checks += 1
        await route.abort("connectionrefused")

    await board.route("**/api/v1/me", unreachable)
    await board.reload()
    await expect(message).to_contain_text(
        "暂时无法验证令牌（无法连接服务器 cannot reach the server），2秒后重试。", timeout=5_000
    )
    await expect(message).to_contain_text("Cannot check the token now; trying again in 2 s.")
    await expect(message).not_to_contain_text("Failed to fetch")
    await expect(board.locator("#main")).to_be_hidden()
    await board.screenshot(path=shots / "01-token-not-checked.png")
    await board.unroute("**/api/v1/me")
    await expect(board.locator("#main")).to_be_visible(timeout=10_000)  # no one typed the token again
    await expect(board.locator("#login")).to_be_hidden()
    assert checks == 1
    await board.screenshot(path=shots / "02-back-by-itself.png")
    await board.close()


async def test_press_publishes_an_approved_notice_that_the_public_then_reads(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    received = await post(stack, "/api/v1/complaints", TRAPPED)
    await followed_up(stack, nc, received["id"], command)

    desk = await browser.new_page(viewport={"width": 1300, "height": 1100})
    await sign_in(desk, f"{stack.url}/press", press)
    await desk.get_by_label("状态 Status").select_option("investigating")
    for label, text in (("标题（中文） Title (Chinese)", "河畔区内涝"), ("标题（英文） Title (English)", "Flooding in Riverside"),
                        ("正文（中文） Text (Chinese)", "排水车已出发，请勿涉水。"),
                        ("正文（英文） Text (English)", "Pump trucks are on their way; keep out of the water.")):  # fmt: skip
        await desk.get_by_label(label).fill(text)
    await desk.get_by_role("button", name="保存草稿 Save draft").click()
    drafted = desk.locator("#notices tr[data-state=draft]")
    await drafted.wait_for(timeout=5_000)
    notice_id = await drafted.get_attribute("data-id")
    await expect(drafted.locator("td.times")).to_contain_text("起草 drafted")
    await expect(drafted.locator("td.times")).to_contain_text("未发布 never published")
    await expect(drafted.locator("td.num")).to_have_text("—")  # no version published
    await expect(drafted).to_contain_text("调查中 investigating")
    await desk.screenshot(path=shots / "01-press-draft.png", full_page=True)

    typed = {
        "status": "investigating",
        "title_zh": "河畔区内涝",
        "title_en": "Flooding in Riverside",
        "body_zh": "排水车已出发，请勿涉水。",
        "body_en": "Pump trucks are on their way; keep out of the water.",
    }
    await post(stack, f"/api/v1/notices/{notice_id}/approve", approval_of(typed), command)
    approved = desk.locator(f"#notices tr[data-id='{notice_id}'][data-state=approved]")
    await approved.wait_for(timeout=LIVE_BOUND_MS)  # the page hears of the approval by itself
    await approved.get_by_role("button", name="发布 Publish").click()
    published = desk.locator(f"#notices tr[data-id='{notice_id}'][data-state=published]")
    await published.wait_for(timeout=LIVE_BOUND_MS)
    await expect(published.get_by_role("status")).to_have_text(  # said at the row (test_press_rows.py)
        "河畔区内涝 Flooding in Riverside: 已发布 published"
    )
    await expect(published.locator("td.times")).to_contain_text("发布 published")
    await desk.screenshot(path=shots / "02-press-published.png", full_page=True)
    await desk.set_viewport_size({"width": 390, "height": 844})  # a phone: Withdraw is on the screen
    withdraw = published.get_by_role("button", name="撤销 Withdraw")
    await withdraw.scroll_into_view_if_needed()
    box = await box_of(withdraw, "the Withdraw button")
    assert box["x"] + box["width"] <= 390, box
    await desk.screenshot(path=shots / "02b-press-on-a-phone.png", full_page=True)

    public = await browser.new_page(viewport={"width": 1000, "height": 900})
    await public.goto(f"{stack.url}/status")
    await public.get_by_label("查询编号 Tracking code").fill(received["tracking_code"])
    await public.keyboard.press("Enter")
    await expect(public.locator("#h-result")).to_contain_text(received["tracking_code"], timeout=5_000)
    await expect(public.locator("#notices")).to_contain_text("Flooding in Riverside")
    page_text = await public.text_content("body") or ""
    assert "Chen Jing" not in page_text and "被困" not in page_text  # no personal data, no free text
    await public.screenshot(path=shots / "03-public-status.png", full_page=True)

    reports = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(reports, f"{stack.url}/reports", press)
    await expect(reports.locator("#totals tr[data-metric=received] td")).to_have_text("1", timeout=5_000)
    await expect(reports.locator("#satisfaction tr[data-answer=satisfied] th")).to_have_text("满意 satisfied")
    await reports.screenshot(path=shots / "04-reports.png", full_page=True)
    await reports.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, none cut off
    cards = reports.locator("section.card")
    await expect(cards).to_have_count(6)  # a loop over none would pass
    for n in range(6):
        box = await box_of(cards.nth(n), f"report card {n}")
        assert box["x"] + box["width"] <= 390, box
    await reports.screenshot(path=shots / "05-reports-on-a-phone.png", full_page=True)
    for page in (desk, public, reports):
        await page.close()


async def followed_up(stack: Stack, nc: Any, complaint_id: str, command: str) -> None:
    """The complaint assessed, handled by drainage, resolved and followed up: the caller was satisfied."""
    drainage, operator = await stack.token("department:drainage"), await stack.token("operator")
    await assess_as_triage(stack, JetStreamEventStore(nc, stack.settings.stream_spec), UUID(complaint_id))
    path = f"/api/v1/complaints/{complaint_id}"
    await post(stack, f"{path}/dispatch", {"department": "drainage", "reason": "flood water"}, command)
    await post(stack, f"{path}/accept", {}, drainage)
    await post(stack, f"{path}/resolve", {"summary": "Water pumped out; both residents safe"}, drainage)
    await post(stack, f"{path}/follow-up-calls", {"outcome": "satisfied", "reason": ""}, operator)


async def test_board_puts_the_most_urgent_incidents_first_and_groups_what_waits_on_command(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    """A typhoon night: 15 incidents, the three big ones declared first (newest-first would list them last),
    15 cases with command (12 P1s escalated at once). The officer sees the big three at the top of a wide incidents
    table, one line per incident for what is with command, and the cases to decide one by one below it."""
    command = await stack.token("command")
    await ready(stack, command)
    night = typhoon_night(small=12)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    await AggregateStore(store, make_mapper()).save(*night.aggregates)

    board = await browser.new_page(viewport={"width": 1500, "height": 1000})
    await sign_in(board, f"{stack.url}/board", command)
    incidents = board.locator("#incidents tr[data-id]")
    await expect(incidents).to_have_count(10, timeout=10_000)  # the top ten of fifteen
    await expect(incidents.nth(0)).to_contain_text("Flooding in Harbourfront")
    await expect(incidents.nth(1)).to_contain_text("Power outage in Old Town")
    await expect(incidents.nth(2)).to_contain_text("Water outage in Newfield")
    await board.screenshot(path=shots / "01-board-top.png")
    await board.screenshot(path=shots / "02-board-full.png", full_page=True)
    assert [await incidents.nth(i).get_attribute("data-id") for i in range(3)] == [
        str(night.incidents[k]) for k in ("flood", "power", "water")]  # fmt: skip
    await expect(incidents.nth(1).locator("td.alarm")).to_have_text(["4", "3"])  # open P1, overdue: red
    # Wide enough to read: the panel spans the page and a title is one line.
    panel = await board.locator("section[aria-labelledby=h-incidents]").bounding_box()
    assert panel is not None and panel["width"] > 1300, panel
    title = await incidents.nth(4).locator("td.title").bounding_box()  # "Telecom outage in Central Hills · …"
    assert title is not None and title["height"] < 30, title

    groups = board.locator("#escalated-incidents tr[data-incident]")
    await expect(groups).to_have_count(3)
    await expect(groups.nth(0)).to_contain_text("Flooding in Harbourfront")
    await expect(groups.nth(1)).to_contain_text("Power outage in Old Town")
    await expect(groups.nth(1).locator("td.num")).to_have_text(["4", "4", "3", "0"])
    await expect(groups.nth(1).locator("td.wait")).to_contain_text("min")  # "不到1分 <1 min" or "1分 1 min"
    await expect(groups.nth(2).locator("td.num")).to_have_text(["3", "2", "2", "1"])
    await expect(board.locator("#command-summary")).to_contain_text("15 with command: 12 in 3 incident(s)")
    # 12 + 4 is not 15: the one in both is said (found by a review adding the parts up).
    await expect(board.locator("#command-summary")).to_contain_text(
        "4 to decide one by one (1 in both: command-queue cases of an incident)"
    )
    cases = board.locator("#escalated tr[data-id]")
    await expect(cases).to_have_count(4)
    await expect(cases.nth(0)).to_have_attribute("data-id", str(night.cases["overdue-loner"]))
    await expect(cases.nth(0)).to_contain_text("超时 overdue")
    queued = board.locator("#escalated tr[data-queue=true]")
    await expect(queued).to_have_count(2)
    await expect(queued.nth(0)).to_contain_text("指挥部队列 command queue")

    await board.get_by_role("button", name="显示全部 15 项 Show all 15").click()
    await expect(incidents).to_have_count(15)
    toggle = board.locator("#incidents-more button")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(toggle).to_have_text("只显示前 10 项 Show the top 10 only")
    await expect(board.locator("#incidents-more")).to_contain_text("显示全部 15 项 showing all 15")
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "03-all-incidents.png", full_page=True)
    await board.keyboard.press("Enter")  # the button kept the focus: the keyboard folds it back
    await expect(incidents).to_have_count(10)
    page = await board.locator("html").bounding_box()
    assert page is not None and page["height"] < 3000, page  # a drill's board was ~10,500 px tall
    await board.close()
