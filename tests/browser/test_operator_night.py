"""The operator console on a typhoon night, in headless Chromium against the real API and projector.

A review of /operator, keyboard first, found: life first chose "Transferred to" by itself, so a call was stored as
transferred to 110 and escalated though nobody had transferred it; what was typed while a call was on its way was
lost when the card reset; the agreed time was read in the desk PC's zone but shown in the city's; no page offered
closing (归档) after the follow-up call; the follow-up row did not say what the case was about; the card could not
record media exposure, vulnerable people or an address, nor say before filing that a caller was out of the area;
and some refusals were raw ("complaint.description: ...", an unknown code). Screenshots under
test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from events.store import JetStreamEventStore
from tests.browser.conftest import Stack, problem
from tests.browser.test_operator_page import _call, _call_card, _filed, _json, _read_models_ready, _until
from tests.integration.operator.helpers import assess, event_names, load, resolved_by

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
CITY = ZoneInfo("Asia/Shanghai")  # events/reference/levee.toml: area.time_zone


async def test_life_first_says_whom_to_call_and_records_a_transfer_only_when_the_operator_chooses_it(
    stack: Stack, store: JetStreamEventStore, browser: Any, shots: Path
) -> None:
    operator = await stack.token("operator")
    page = await _call_card(stack, browser, operator)
    keys, box, transfer = page.keyboard, page.locator("#life-first"), page.locator("#transfer")

    # The box says whom to call; "Transferred to" stays empty, and the box says nothing is recorded until chosen.
    suggested = "My neighbour is trapped in the lift and the building is dark"
    await page.locator("#description").focus()
    await keys.type(suggested)
    await expect(box).to_contain_text("put the caller through to 119 now")
    await expect(transfer).to_have_value("")
    await expect(box).to_contain_text("no transfer is recorded until you choose the service you actually put the "
                                      "caller through to")  # fmt: skip
    await expect(box.get_by_role("button", name="已转接 119 — I transferred to 119")).to_have_attribute(
        "aria-pressed", "false"
    )
    await page.screenshot(path=str(shots / "01-suggested-not-chosen.png"))
    await page.locator("#submit").focus()
    await keys.press("Enter")
    result = page.locator("#call-result")
    await expect(result).to_contain_text("received", timeout=BOUND_MS)
    await expect(result).not_to_contain_text("transferred")
    [filed] = await _filed(stack, operator, suggested)
    assert "EmergencyTransferRecorded" not in await event_names(store, filed["id"])
    assert (await load(store, filed["id"])).escalation_level == 0

    # The next caller was put through: the operator says so from the box, with the keyboard.
    transferred = "Two people trapped in the lift at 8 Hill Road since the power went"
    await page.locator("#description").focus()
    await keys.type(transferred)
    made = box.get_by_role("button", name="已转接 119 — I transferred to 119")
    await expect(made).to_be_visible()
    await made.focus()
    await keys.press("Enter")
    await expect(transfer).to_have_value("119")
    await expect(made).to_have_attribute("aria-pressed", "true")
    await expect(box).to_contain_text("recorded as transferred to 119 when the call is submitted")
    await page.screenshot(path=str(shots / "02-transfer-chosen.png"))
    await page.locator("#submit").focus()
    await keys.press("Enter")
    await expect(result).to_contain_text("transferred to 119", timeout=BOUND_MS)
    [moved] = await _filed(stack, operator, transferred)
    assert "EmergencyTransferRecorded" in await event_names(store, moved["id"])
    complaint = await load(store, moved["id"])
    assert [t["service"] for t in complaint.emergency_transfers] == ["119"]
    assert complaint.escalation_level == 2
    await page.close()


async def test_the_card_is_locked_while_its_call_is_on_its_way_and_failures_are_said_in_words(
    stack: Stack, browser: Any, shots: Path
) -> None:
    operator = await stack.token("operator")
    page = await _call_card(stack, browser, operator)
    description = "Water pouring through the ceiling of the community hall on Pier Road"

    # In flight: nothing on the card can change (what was typed then was lost on the answer).
    arrived, answer = asyncio.Event(), asyncio.Event()

    async def held(route: Any) -> None:
        arrived.set()
        await answer.wait()
        await route.fulfill(
            **problem(503, "unavailable", "Nothing was stored: NATS is unreachable. Try again.")
        )

    await page.route("**/api/v1/operator/calls", held)
    await page.locator("#description").fill(description)
    await page.locator("#submit").click()
    await asyncio.wait_for(arrived.wait(), BOUND_MS / 1000)
    for field in (
        "#description",
        "#category",
        "#district",
        "#address",
        "#reporter_name",
        "#transfer",
        "#submit",
    ):
        await expect(page.locator(field)).to_be_disabled()
    await expect(page.locator("#call")).to_have_attribute("aria-busy", "true")
    await page.screenshot(path=str(shots / "01-on-its-way.png"))
    answer.set()
    result = page.locator("#call-result")
    await expect(result).to_contain_text("未提交 not filed", timeout=BOUND_MS)
    await expect(page.locator("#description")).to_be_enabled()
    await expect(page.locator("#description")).to_have_value(description)  # kept, to send again
    await expect(page.locator("#submit")).to_be_enabled()

    # Stored, maybe: the code the answer names is kept and shown, to read to the caller.
    await page.unroute("**/api/v1/operator/calls")
    await page.route("**/api/v1/operator/calls", lambda route: route.fulfill(**problem(
        503, "write_unconfirmed", "The complaint may or may not be stored: TimeoutError.", tracking_code="LV-7K3QX9",
        links={"status": "/api/v1/status/LV-7K3QX9"})))  # fmt: skip
    await page.locator("#submit").click()
    await expect(result).to_contain_text("May have been filed", timeout=BOUND_MS)
    await expect(result.locator(".maybe-code")).to_have_text(
        "若已提交，编号为 if it was filed, its code is LV-7K3QX9"
    )
    await page.screenshot(path=str(shots / "02-maybe-filed-with-its-code.png"))

    # A refusal of a field, in the card's words: "complaint.description: must not be empty" meant nothing.
    await page.unroute("**/api/v1/operator/calls")
    await page.locator("#description").fill("   ")
    await page.locator("#submit").click()
    await expect(result).to_contain_text("情况 What happened: 不能为空 must not be empty", timeout=BOUND_MS)
    await expect(result).not_to_contain_text("complaint.")
    await page.screenshot(path=str(shots / "03-field-refused-in-words.png"))
    await page.close()


async def test_an_agreed_time_is_the_citys_on_a_desk_pc_in_another_zone(
    stack: Stack, store: JetStreamEventStore, browser: Any, shots: Path
) -> None:
    """The desk PC runs on UTC, the city on Asia/Shanghai: the time typed is the city's, and so is the one echoed.
    A case not assessed yet is tried again by itself once after Retry-After; refusals are in words."""
    operator = await stack.token("operator")
    await _read_models_ready(stack, operator)
    context = await browser.new_context(timezone_id="UTC", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(f"{stack.url}/operator")
    await page.locator("#token").fill(operator)
    await page.keyboard.press("Enter")
    await expect(page.locator("#main")).to_be_visible()
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "UTC"

    description = "Power cut on Riverside Road since 6 pm, the pumps are off"
    await page.locator("#description").fill(description)
    await page.locator("#submit").click()
    await expect(page.locator("#call-result")).to_contain_text("received", timeout=BOUND_MS)
    await expect(page.locator("#agree")).to_be_visible()
    await expect(page.locator("#agreed-zone")).to_contain_text("Asia/Shanghai (GMT+8)")

    # Sent before triage set its resolve-by: 409 not_assessed_yet (Retry-After: 2). Triage assesses it meanwhile;
    # the page asks again by itself, once. This time is over 90 days ahead: refused, in words.
    asked: list[str] = []

    async def agreed(route: Any) -> None:
        asked.append(route.request.post_data or "")
        answer = await route.fetch()
        if len(asked) == 1:
            assert answer.status == 409, await answer.text()
            await assess(store, route.request.url.split("/")[-2], "P2")
        await route.fulfill(response=answer)

    await page.route("**/agreed-resolution-time", agreed)
    too_far = datetime.now(CITY) + timedelta(days=200)
    await page.locator("#agreed-at").fill(too_far.strftime("%Y-%m-%dT%H:%M"))
    await page.locator("#agree-submit").click()
    said = page.locator("#agree-message")
    await expect(said).to_contain_text("此工单尚未完成初步评估，暂不能约定期限", timeout=BOUND_MS)
    await expect(said).to_contain_text("trying again by itself in 2 s")
    await page.screenshot(path=str(shots / "01-not-assessed-trying-again.png"))
    await expect(said).to_contain_text("约定时间最多在90天之内，请检查年份", timeout=BOUND_MS)
    await expect(said).to_contain_text("an agreed time is at most 90 days ahead; check the year")
    await page.screenshot(path=str(shots / "02-too-far-in-words.png"))
    # Tried again once, not for ever: the refusal in words announces no further try, and none was sent.
    await expect(said).not_to_contain_text("trying again by itself")
    assert len(asked) == 2, asked

    # Six hours from now in the city, typed as the city's clock shows it.
    promised = (datetime.now(CITY) + timedelta(hours=6)).replace(second=0, microsecond=0)
    await page.locator("#agreed-at").fill(promised.strftime("%Y-%m-%dT%H:%M"))
    await page.locator("#agree-submit").focus()
    await page.keyboard.press("Enter")
    result = page.locator("#call-result")
    await expect(result).to_contain_text("约定期限已记录", timeout=BOUND_MS)
    clock = promised.strftime("%H:%M")
    await expect(result).to_contain_text(
        re.compile(rf"agreed time recorded: \S+ {clock}:00 \(Asia/Shanghai \(GMT\+8\)\)")
    )
    await page.screenshot(path=str(shots / "03-recorded-in-city-time.png"))
    [filed] = await _filed(stack, operator, description)
    assert (await load(store, filed["id"])).agreed_resolution_at == promised.astimezone(UTC)
    await context.close()


async def test_a_follow_up_row_says_what_the_case_is_and_a_done_follow_up_offers_closing(
    stack: Stack, store: JetStreamEventStore, browser: Any, shots: Path
) -> None:
    operator = await stack.token("operator")
    reached = await _call(
        stack, operator, "Power cut at the clinic on Hill Road since noon", "+86 137 1111 2222"
    )
    nobody = await _call(
        stack, operator, "No power in the whole of Riverside Court since the storm", "+86 137 3333 4444"
    )
    for case in (reached, nobody):
        await resolved_by(store, case["id"], "power", "P2")

    async def queued() -> bool:
        queue = await _json(stack, "GET", "/api/v1/operator/follow-ups", operator)
        return {reached["tracking_code"], nobody["tracking_code"]} <= {
            i["tracking_code"] for i in queue["items"]
        }

    await _until("both cases in the follow-up queue", queued)
    page = await _call_card(stack, browser, operator)
    keys = page.keyboard

    # What the case is about, before dialling: its category and district.
    row = page.locator(f"#followups tr[data-code='{reached['tracking_code']}']")
    await expect(row.locator(".fu-what")).to_have_text("停电 Power outage · 河畔区 Riverside")
    await page.locator("#h-follow").scroll_into_view_if_needed()
    await page.screenshot(path=str(shots / "01-follow-up-rows.png"))

    # Reached and satisfied: the result offers 归档, with the focus on it.
    await row.locator(".fu-outcome").select_option("satisfied")
    await row.locator(".fu-record").focus()
    await keys.press("Enter")
    done = page.locator(f"#fu-done li[data-code='{reached['tracking_code']}']")
    await expect(done).to_contain_text("满意 satisfied — 回访已完成，可以归档 the follow-up is done: the case can be closed",
                                       timeout=BOUND_MS)  # fmt: skip
    close = done.get_by_role("button", name=f"归档 Close {reached['tracking_code']}")
    await expect(close).to_be_focused()
    await page.screenshot(path=str(shots / "02-close-offered.png"))
    await keys.press("Enter")
    await expect(done).to_contain_text("已归档 closed", timeout=BOUND_MS)
    assert (await load(store, reached["id"])).status == "closed"

    # Not reached: tried again, then the last of the three calls says the tries are used up and offers 归档.
    row = page.locator(f"#followups tr[data-code='{nobody['tracking_code']}']")
    said = page.locator("#fu-message")
    for call in (1, 2):
        await row.locator(".fu-outcome").select_option("not_reached")
        await row.locator(".fu-record").click()
        await expect(said).to_contain_text(f"未接通 not reached（第{call}次，共可打3次） — call {call} of 3")
        await expect(row.locator("td").nth(3)).to_have_text(str(call))
    await row.locator(".fu-outcome").select_option("not_reached")
    await row.locator(".fu-record").click()
    await expect(said).to_contain_text("（已打3次，次数已用完，记为未联系上） — called 3 of 3 times: no tries left, "
                                       "recorded as not contacted")  # fmt: skip
    await expect(row).to_be_hidden()
    done = page.locator(f"#fu-done li[data-code='{nobody['tracking_code']}']")
    await expect(done).to_contain_text("未接通 not reached ×3 — 回访已完成，可以归档")
    close = done.get_by_role("button", name=f"归档 Close {nobody['tracking_code']}")
    await expect(close).to_be_focused()
    await page.screenshot(path=str(shots / "03-tries-used-up-close-offered.png"))
    await keys.press("Enter")
    await expect(done).to_contain_text("已归档 closed", timeout=BOUND_MS)
    assert (await load(store, nobody["id"])).status == "closed"
    await expect(page.locator("#followups")).to_have_text("无 none")
    await page.screenshot(path=str(shots / "04-closed.png"))
    await page.close()


async def test_an_out_of_area_caller_is_seen_before_filing_and_the_card_records_what_only_operators_may(
    stack: Stack, store: JetStreamEventStore, browser: Any, shots: Path
) -> None:
    operator, command = await stack.token("operator"), await stack.token("command")
    page = await _call_card(stack, browser, operator)
    description = "A tree fell across Shore Lane and blocks both lanes; my mother is stuck at home"
    await page.locator("#description").fill(description)
    await page.locator("#category").select_option("fallen_tree")
    await page.locator("#district").select_option(label="区外 outside the served area")
    await page.locator("#address").fill("12 Shore Lane, Lantau")
    await page.get_by_label("老人 elderly").check()
    await page.get_by_label("婴幼儿 infant").check()
    await page.get_by_label("媒体曝光 Media exposure").check()
    await expect(page.locator("#acceptance li[data-code=outside_area]")).to_have_text(
        "该区不在服务范围内。 That district is not served here."
    )
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/operator/calls") else None)
    await page.locator("#submit").click()
    confirm = page.locator("#confirm")
    await expect(confirm).to_contain_text("That district is not served here.")
    await expect(confirm).to_contain_text("File the call anyway?")
    await expect(page.locator("#confirm-file")).to_be_focused()
    await page.screenshot(path=str(shots / "01-asked-before-filing.png"))
    assert sent == []
    await page.keyboard.press("Enter")  # filed anyway: the operator heard the caller
    await expect(page.locator("#call-result")).to_contain_text("received", timeout=BOUND_MS)
    await page.screenshot(path=str(shots / "02-filed.png"))
    assert len(sent) == 1
    [filed] = await _filed(stack, operator, description)
    complaint = await load(store, filed["id"])
    assert complaint.media_exposure is True
    assert complaint.vulnerable == ["elderly", "infant"]
    assert complaint.district is None
    async with (
        aiohttp.ClientSession(stack.url) as http,
        http.get(
            f"/api/v1/complaints/{filed['id']}/contact", headers={"Authorization": f"Bearer {command}"}
        ) as got,
    ):
        assert got.status == 200, await got.text()
        assert (await got.json())["address"] == "12 Shore Lane, Lantau"
    await page.close()
