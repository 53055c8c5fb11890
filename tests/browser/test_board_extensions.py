"""延期 on the command board, in headless Chromium against the real API and projector: a department asks for
more time through the API; the duty officer sees the request beside the case's resolve-by and the time left,
grants it with another number of minutes (a double click sends one grant), and denies another with a reason.
Also: the time inside an escalation reason is shown in local time, as every other time on the board.
Screenshots go under test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest

from events.store import JetStreamEventStore
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import TRAPPED, assess_as_triage, post, ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
SHOWN_MS = 5_000  # a decision's row goes once the projector has it; two shared cores run this
SHANGHAI = timezone(timedelta(hours=8))  # the browser's zone here: no daylight saving, so fixed


def local(iso: str) -> str:
    """An ISO time as the page's fmtTime shows it in Shanghai (toLocaleString zh-CN, 24 h): 2025/9/1 14:00:00."""
    at = datetime.fromisoformat(iso).astimezone(SHANGHAI)
    return f"{at.year}/{at.month}/{at.day} {at:%H:%M:%S}"


async def case(stack: Stack, token: str, complaint_id: UUID) -> dict[str, Any]:
    """The complaint as the read model has it ({} before the projector has it at all)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.get(f"/api/v1/complaints/{complaint_id}", headers=headers) as response,
    ):
        if response.status == 404:
            return {}
        assert response.status == 200, (response.status, await response.text())
        return await response.json()


async def case_when(
    stack: Stack, token: str, complaint_id: UUID, holds: Callable[[dict[str, Any]], bool], bound: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + bound
    while True:
        found = await case(stack, token, complaint_id)
        if found and holds(found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


async def asking_for_more_time(
    stack: Stack, store: JetStreamEventStore, command: str, desk: str, minutes: int, reason: str
) -> UUID:
    """A P1 case drainage has signed for, and its request for `minutes` more, all through the API."""
    complaint_id = UUID((await post(stack, "/api/v1/complaints", TRAPPED))["id"])
    await assess_as_triage(stack, store, complaint_id)
    path = f"/api/v1/complaints/{complaint_id}"
    await post(
        stack, f"{path}/dispatch", {"department": "drainage", "reason": "flood water inside homes"}, command
    )
    await post(stack, f"{path}/accept", {}, desk)
    await post(stack, f"{path}/extension-requests", {"minutes": minutes, "reason": reason}, desk)
    return complaint_id


def kinds(detail: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry for entry in detail["timeline"] if entry["kind"] == kind]


async def test_command_grants_and_denies_extension_requests_from_the_board(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command, drainage = await stack.token("command"), await stack.token("department:drainage")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    pumps = await asking_for_more_time(
        stack, store, command, drainage, 180, "Second pump needed from the depot"
    )
    power = await asking_for_more_time(
        stack, store, command, drainage, 600, "等供电公司抢修 waiting for the grid crew"
    )
    before = await case_when(stack, command, pumps, lambda c: c["extension_pending"] and c["resolve_by"])
    await case_when(stack, command, power, lambda c: c["extension_pending"])

    board = await browser.new_page(viewport={"width": 1500, "height": 1100}, timezone_id="Asia/Shanghai")
    sent: list[str] = []
    board.on(
        "request",
        lambda r: sent.append(r.url) if r.method == "POST" and "extension-requests" in r.url else None,
    )
    await sign_in(board, f"{stack.url}/board", command)
    await board.wait_for_selector("#conn[data-state=live]", timeout=10_000)
    first = board.locator(f"#extensions tr[data-id='{pumps}']")
    second = board.locator(f"#extensions tr[data-id='{power}']")
    await expect(first).to_contain_text("Second pump needed from the depot", timeout=SHOWN_MS)
    await expect(first.locator("td.asked")).to_contain_text("180 分 min")
    await expect(first.locator("td.deadline")).to_contain_text(local(before["resolve_by"]))
    await expect(first.locator("td.deadline .left")).to_contain_text(
        "剩余 3小时"
    )  # P1: 4 h from the sign-for
    await expect(first.locator("td.deadline .left")).to_contain_text("h 59 min left")
    minutes = first.get_by_label("批准分钟数 Minutes to grant")
    await expect(minutes).to_have_value("180")  # what was asked
    await expect(second.get_by_label("批准分钟数 Minutes to grant")).to_have_value("600")
    await expect(board.locator("[data-testid=count-extensions]")).to_have_text("2")
    await expect(board.locator("#extensions-note")).to_have_text(
        "2 件，最早的申请在前 2 waiting, the oldest first"
    )

    # Another number of minutes than asked: the row says what the resolve-by becomes, and keeps the value
    # and the focus across the live refetches (the board is not rebuilt under the officer's hands).
    await minutes.fill("240")
    granted_by = datetime.fromisoformat(before["resolve_by"]) + timedelta(minutes=240)
    await expect(first.locator(".after")).to_have_text(f"批准后 after grant: {local(granted_by.isoformat())}")
    await post(stack, "/api/v1/complaints", TRAPPED)  # the board refetches on the projector's commit
    await expect(board.locator("[data-testid=count-open]")).to_have_text("3", timeout=SHOWN_MS)
    await expect(minutes).to_be_focused()
    await expect(minutes).to_have_value("240")
    await board.mouse.wheel(0, 700)  # the panel to the top half of the window (it is in view already)
    await expect(board.locator("#h-extensions")).to_be_in_viewport()
    await board.screenshot(path=shots / "01-extension-requests.png")

    await first.get_by_role("button", name="批准 Grant").dblclick()
    await expect(first).to_have_count(0, timeout=SHOWN_MS)
    # The row is gone: its panel says what became of it (the page's top is off-screen on a wall board).
    await expect(board.locator("#extensions-message")).to_have_text(
        f"{before['tracking_code']}: 已批准延期 240 分 extension of 240 min granted"
    )
    granted = await case_when(stack, command, pumps, lambda c: not c["extension_pending"])
    assert datetime.fromisoformat(granted["resolve_by"]) == granted_by
    assert [g["detail"]["minutes"] for g in kinds(granted, "ExtensionGranted")] == [240]  # one grant
    assert len(sent) == 1 and sent[0].endswith(f"/complaints/{pumps}/extension-requests/grant"), sent

    # A number the API would refuse is not sent: the page says what it takes.
    await second.get_by_label("批准分钟数 Minutes to grant").fill("0")
    await second.get_by_role("button", name="批准 Grant").click()
    said = second.locator(".row-message")  # in the row acted on
    await expect(said).to_contain_text("minutes to grant must be a whole number from 1 to 20160")
    await expect(said).to_be_in_viewport()
    assert len(sent) == 1

    await second.get_by_role("button", name="驳回 Deny…").click()
    form = board.locator("#deny")
    await expect(form).to_be_visible()
    await expect(form.locator("h3")).to_contain_text((await case(stack, command, power))["tracking_code"])
    await expect(board.locator("#deny-reason")).to_be_focused()
    await board.locator("#deny-reason").fill("抢修已在现场 the grid crew is already on site; 4 h is enough")
    await board.screenshot(path=shots / "02-deny-form.png")
    await board.locator("#deny-submit").click()
    await expect(second).to_have_count(0, timeout=SHOWN_MS)
    await expect(form).to_be_hidden()
    await expect(board.locator("#extensions-message")).to_contain_text("已驳回延期 extension denied")
    denied = await case_when(stack, command, power, lambda c: not c["extension_pending"])
    assert [d["detail"]["reason"] for d in kinds(denied, "ExtensionDenied")] == [
        "抢修已在现场 the grid crew is already on site; 4 h is enough"
    ]
    assert not kinds(denied, "ExtensionGranted")
    await expect(board.locator("#extensions-note")).to_have_text("暂无待批申请 no requests waiting")
    await expect(board.locator("#extensions-table")).to_be_hidden()
    await expect(board.locator("[data-testid=count-extensions]")).to_have_text("0")
    assert len(sent) == 2
    await board.screenshot(path=shots / "03-decided.png")

    # Another officer decided first, and this board has not heard yet: the API's refusal is on the page.
    crane = await asking_for_more_time(
        stack, store, command, drainage, 120, "Crane needed for the fallen tree"
    )
    third = board.locator(f"#extensions tr[data-id='{crane}']")
    await expect(third).to_be_visible(timeout=SHOWN_MS)
    await board.route("**/api/v1/board", lambda route: route.abort())  # the board's refetches fail for now
    await post(stack, f"/api/v1/complaints/{crane}/extension-requests/grant", {"minutes": 60}, command)
    await third.get_by_role("button", name="批准 Grant").click()
    # In the row, in words (it was "409: No extension request is waiting…" at the top of the page), with what
    # the case is now (the refusal's `current`).
    await expect(third.locator(".row-message")).to_have_text(
        "批准延期失败 not granted — 该延期申请已有决定（可能由他人作出） the request was already decided, perhaps by "
        "someone else (409) — 现为：已签收（排水管理处） now: accepted, with Drainage Services"
    )
    await expect(third.locator(".row-message")).to_be_in_viewport()
    await expect(third.get_by_role("button", name="批准 Grant")).to_be_enabled()  # nothing was decided here
    await board.screenshot(path=shots / "04-refused.png")
    await board.unroute("**/api/v1/board")
    await post(stack, "/api/v1/complaints", TRAPPED)  # a commit: the board refetches
    await expect(third).to_have_count(0, timeout=SHOWN_MS)
    await board.close()


async def test_board_shows_the_time_in_an_escalation_reason_in_local_time(
    stack: Stack, browser: Any, shots: Path
) -> None:
    """The deadline watcher's reason carries the missed deadline in UTC; the stored text stays as it is."""
    command = await stack.token("command")
    await ready(stack, command)
    reasons = {
        "missed resolve-by deadline 2025-09-01T06:00:00+00:00": "missed resolve-by deadline 2025/9/1 14:00:00",
        "missed accept-by deadline 2025-09-01T05:59:30.250000+00:00 (called 2025-09-01T06:00:00 local)":
            "missed accept-by deadline 2025/9/1 13:59:30 (called 2025-09-01T06:00:00 local)",
    }  # fmt: skip
    cases = {}
    for reason in reasons:
        complaint_id = (await post(stack, "/api/v1/complaints", TRAPPED))["id"]
        await post(
            stack, f"/api/v1/complaints/{complaint_id}/escalate", {"level": 2, "reason": reason}, command
        )
        cases[reason] = complaint_id

    board = await browser.new_page(viewport={"width": 1500, "height": 900}, timezone_id="Asia/Shanghai")
    await sign_in(board, f"{stack.url}/board", command)
    for reason, shown in reasons.items():
        why = board.locator(f"#escalated tr[data-id='{cases[reason]}'] td.why")
        await expect(why).to_contain_text(shown, timeout=SHOWN_MS)
        await expect(why).to_have_attribute("title", reason)  # the stored text, for whoever needs the UTC
    await board.locator("#h-command").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-reason-in-local-time.png")
    await board.close()
