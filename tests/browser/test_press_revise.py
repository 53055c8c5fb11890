"""The press page changes a notice's text in headless Chromium, against the real API and projector: Update on a
published notice (the public keeps the published text until command approves the change and press publishes
it), and Revise on an approved one the personal-data guard refused, whose refusal says in words what it found
and where. Screenshots under test-output/browser/<test name>/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest

from events.incident import Incident
from events.mapper import make_mapper
from events.notice import Notice
from events.publishing.redaction import find_personal_data
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import post, ready, sign_in
from tests.support.notices import approval_of
from tests.support.waiting import wait_until_async

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
PUBLISHED = {
    "title_zh": "西湾区停水通知", "title_en": "Water cut in Westbay",
    "body_zh": "西湾区今日停水，抢修中。", "body_en": "Water is cut in Westbay today; crews are repairing the main.",
    "status": "investigating",
}  # fmt: skip
UPDATED = {
    "title_zh": "西湾区已恢复供水", "title_en": "Water back in Westbay",
    "body_zh": "西湾区已于18时恢复供水。", "body_en": "Water is back in Westbay since 18:00.", "status": "resolved",
}  # fmt: skip
LABELS = {
    "title_zh": "标题（中文） Title (Chinese)", "title_en": "标题（英文） Title (English)",
    "body_zh": "正文（中文） Text (Chinese)", "body_en": "正文（英文） Text (English)",
}  # fmt: skip


def drafted(text: dict[str, str], incident_id: UUID | None = None) -> Notice:
    return Notice.draft(
        incident_id=incident_id, title_zh=text["title_zh"], title_en=text["title_en"], body_zh=text["body_zh"],
        body_en=text["body_en"], status=text["status"], drafted_by="press-li",
    )  # fmt: skip


async def public_titles(stack: Stack) -> dict[str, str]:
    """The public feed, as anyone reads it: each notice's English title by id."""
    async with aiohttp.ClientSession(stack.url) as http, http.get("/api/v1/notices") as feed:
        assert feed.status == 200, await feed.text()
        return {n["id"]: n["title_en"] for n in (await feed.json())["items"]}


async def test_press_updates_a_published_notice_and_the_public_sees_it_once_approved_and_published(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    incident = Incident.declare(title="Water cut", kind="water", districts=["westbay"], declared_by="cmd-wu")
    notice = drafted(PUBLISHED, incident.id)
    notice.approve(by="cmd-wu")
    notice.publish()
    await repository.save(incident, notice)

    page = await browser.new_page(viewport={"width": 1300, "height": 1100})
    await sign_in(page, f"{stack.url}/press", press)
    row = page.locator(f"#notices tr[data-id='{notice.id}']")
    await expect(row).to_have_attribute("data-state", "published", timeout=BOUND_MS)
    await row.get_by_role("button", name="更新 Update").click()
    editor = page.locator(f"#notices tr.editor[data-editor-for='{notice.id}']")
    for name, label in LABELS.items():  # filled with the text as published: both languages, every field
        await expect(editor.get_by_label(label)).to_have_value(PUBLISHED[name])
    await expect(editor.get_by_label("状态 Status")).to_have_value("investigating")
    for name, label in LABELS.items():
        await editor.get_by_label(label).fill(UPDATED[name])
    await editor.get_by_label("状态 Status").select_option("resolved")
    # Another notice drafted meanwhile redraws the list: what is typed stays.
    other = drafted({**PUBLISHED, "title_en": "Other"})
    await repository.save(other)
    await expect(page.locator(f"#notices tr[data-id='{other.id}']")).to_have_count(1, timeout=BOUND_MS)
    await expect(editor.get_by_label(LABELS["body_en"])).to_have_value(UPDATED["body_en"])
    await expect(editor.get_by_label("状态 Status")).to_have_value("resolved")
    await page.screenshot(path=shots / "01-update-typed.png", full_page=True)
    await editor.get_by_role("button", name="保存更新 Save update").click()

    # Waiting for command: the row says so, and that the public still reads the published version.
    await expect(row).to_have_attribute("data-state", "updated", timeout=BOUND_MS)
    await expect(editor).to_have_count(0)
    await expect(row.locator("td.state")).to_have_text("更新待批准 update awaiting approval")
    await expect(row.locator(".public-now")).to_contain_text(
        f'The public still sees version 1, "{PUBLISHED["title_en"]}", until command staff approve this update'
    )
    await expect(row.get_by_role("status")).to_contain_text("更新已保存，待指挥批准后发布")  # at the row
    await page.screenshot(path=shots / "02-update-awaits-approval.png", full_page=True)
    stored = await repository.get(notice.id, Notice)
    assert (stored.state, stored.body_en, stored.status) == ("updated", UPDATED["body_en"], "resolved")
    assert (await public_titles(stack))[str(notice.id)] == PUBLISHED["title_en"]

    desk = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(desk, f"{stack.url}/press", command)
    command_row = desk.locator(f"#notices tr[data-id='{notice.id}']")
    await expect(command_row).to_have_attribute("data-state", "updated", timeout=BOUND_MS)
    await expect(command_row.locator("button[data-action=revise], button[data-action=update]")).to_have_count(
        0
    )
    await command_row.locator("details summary").click()
    await expect(command_row.locator("details")).to_contain_text(UPDATED["body_en"])
    await command_row.get_by_role("button", name="批准 Approve").click()
    await expect(command_row).to_have_attribute("data-state", "approved", timeout=BOUND_MS)
    await desk.screenshot(path=shots / "03-command-approved.png", full_page=True)
    await desk.close()

    # Approved, not yet published: the public text is still the old one, and the press row says so.
    await expect(row).to_have_attribute("data-state", "approved", timeout=BOUND_MS)
    await expect(row.locator(".public-now")).to_contain_text("until this update is published")
    assert (await public_titles(stack))[str(notice.id)] == PUBLISHED["title_en"]
    public = await browser.new_page(viewport={"width": 1000, "height": 900})
    await public.goto(f"{stack.url}/status")
    article = public.locator(f"#notice-{notice.id}")
    await expect(article).to_contain_text(PUBLISHED["body_en"], timeout=BOUND_MS)
    await expect(article).not_to_contain_text(UPDATED["body_en"])

    await row.get_by_role("button", name="发布 Publish").click()
    await expect(row).to_have_attribute("data-state", "published", timeout=BOUND_MS)
    await expect(row.locator("td.num")).to_have_text("2")
    await expect(row.locator(".public-now")).to_have_count(0)
    await page.screenshot(path=shots / "04-update-published.png", full_page=True)

    async def public_has_it() -> bool:
        return (await public_titles(stack)).get(str(notice.id)) == UPDATED["title_en"]

    await wait_until_async(public_has_it, "the public feed shows the published update")
    await public.reload()
    await expect(article).to_contain_text(UPDATED["body_en"], timeout=BOUND_MS)
    await expect(article).not_to_contain_text(PUBLISHED["body_en"])
    await public.screenshot(path=shots / "05-public-sees-update.png", full_page=True)
    await public.close()
    await page.close()


LEAKY = {
    "title_zh": "海港路内涝", "title_en": "Harbour flood", "body_zh": "如有疑问请致电 0755-8765 4321。",
    "body_en": "Thanks to Chan Tai-man. Questions: call 0755-8765 4321 or write to wang.fang@example.com.",
    "status": "identified",
}  # fmt: skip
CLEAN = {**LEAKY, "title_en": "Harbour flood: pumps at work", "body_zh": "如有疑问请致电 12345。",
         "body_en": "Questions: call the city hotline 12345."}  # fmt: skip


async def test_press_revises_an_approved_notice_refused_for_personal_data_told_in_words(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press, command = await stack.token("press"), await stack.token("command")
    await ready(stack, command)
    complaint = await post(stack, "/api/v1/complaints", {
        "channel": "web", "description": "Water up to the knees in the lobby",
        "location": {"lat": 22.5, "lon": 113.9, "address": "12 Shore Road, flat 3B"},
        "reporter": {"name": "Chan Tai-man", "phone": "+852 9123 4567"},
    })  # fmt: skip
    incident = await post(
        stack, "/api/v1/incidents", {"title": "Harbour flood", "kind": "flood", "districts": []}, command
    )
    await post(
        stack, f"/api/v1/incidents/{incident['id']}/complaints", {"complaint_id": complaint["id"]}, command
    )
    notice = await post(stack, "/api/v1/notices", {"incident_id": incident["id"], **LEAKY}, press)
    await post(stack, f"/api/v1/notices/{notice['id']}/approve", approval_of(LEAKY), command)

    page = await browser.new_page(viewport={"width": 1300, "height": 1100})
    await sign_in(page, f"{stack.url}/press", press)
    row = page.locator(f"#notices tr[data-id='{notice['id']}']")
    await expect(row).to_have_attribute("data-state", "approved", timeout=BOUND_MS)
    await row.get_by_role("button", name="发布 Publish").click()

    # The refusal names each kind in words, where (field and language) and the excerpt masked: no codes, offsets.
    message = row.get_by_role("status")  # said at the row acted on
    await expect(message).to_contain_text("发布失败 not published — 含有不得公开的个人信息", timeout=BOUND_MS)
    for words in ("英文正文 English text: 本事件投诉人的姓名、地址或联系方式 a name, address or contact of a complainant",
                  "固定电话号码 a landline number", "电子邮箱地址 an email address",
                  "中文正文 Chinese text: 固定电话号码 a landline number", "Correct it with Revise"):  # fmt: skip
        await expect(message).to_contain_text(words)
    said = await message.inner_text()
    for name in ("body_en", "body_zh"):
        for finding in find_personal_data(LEAKY[name], ["Chan Tai-man"]):
            assert f"「{finding.masked}」" in said and f"{finding.kind} {finding.masked}" not in said, said
    assert not re.search(r"\bat \d+-\d+|known_person|body_en|body_zh", said), said  # the guard's own words
    assert "Chan Tai-man" not in said and "wang.fang" not in said
    await page.screenshot(path=shots / "01-refused-in-words.png", full_page=True)

    await row.get_by_role("button", name="修改 Revise").click()
    editor = page.locator(f"#notices tr.editor[data-editor-for='{notice['id']}']")
    found_there = editor.locator(".message.error")  # what was found is said where it is corrected, too
    await expect(found_there).to_contain_text("电子邮箱地址 an email address")
    for name, label in LABELS.items():  # the approved text, to correct
        await expect(editor.get_by_label(label)).to_have_value(LEAKY[name])
    await expect(editor.get_by_label("状态 Status")).to_have_value("identified")
    for name in ("title_en", "body_zh", "body_en"):
        await editor.get_by_label(LABELS[name]).fill(CLEAN[name])
    await page.screenshot(path=shots / "02-revising.png", full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=shots / "02b-revising-on-a-phone.png", full_page=True)
    await page.set_viewport_size({"width": 1300, "height": 1100})
    await editor.get_by_role("button", name="保存修改 Save revision").click()

    await expect(row).to_have_attribute("data-state", "draft", timeout=BOUND_MS)
    await expect(editor).to_have_count(0)
    await expect(message).to_contain_text(
        "Harbour flood: pumps at work: 已修改，待指挥重新批准 revised; command staff must approve it again"
    )
    await expect(row).to_contain_text(CLEAN["title_en"])
    stored = await repository_notice(stack, nc, UUID(notice["id"]))
    assert (stored.state, stored.approved_by, stored.body_en) == ("draft", None, CLEAN["body_en"])

    # Approved again, the corrected text publishes.
    await post(stack, f"/api/v1/notices/{notice['id']}/approve", approval_of(CLEAN), command)
    await expect(row).to_have_attribute("data-state", "approved", timeout=BOUND_MS)
    await row.get_by_role("button", name="发布 Publish").click()
    await expect(row).to_have_attribute("data-state", "published", timeout=BOUND_MS)
    await page.screenshot(path=shots / "03-corrected-published.png", full_page=True)
    await page.close()


async def test_a_revise_form_says_when_the_notice_changed_under_it_and_keeps_what_is_typed(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    press = await stack.token("press")
    await ready(stack, await stack.token("command"))
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    notice = drafted(PUBLISHED)
    await repository.save(notice)

    page = await browser.new_page(viewport={"width": 1300, "height": 1000})
    await sign_in(page, f"{stack.url}/press", press)
    row = page.locator(f"#notices tr[data-id='{notice.id}']")
    await expect(row).to_have_attribute("data-state", "draft", timeout=BOUND_MS)
    await row.get_by_role("button", name="修改 Revise").click()
    editor = page.locator(f"#notices tr.editor[data-editor-for='{notice.id}']")
    await expect(editor.get_by_label(LABELS["title_zh"])).to_be_focused()
    await editor.get_by_label(LABELS["body_en"]).fill("Typed here, not saved yet.")
    changed = editor.locator(".changed")
    await expect(changed).to_be_hidden()

    notice.revise(  # another officer, meanwhile
        title_zh=UPDATED["title_zh"], title_en=UPDATED["title_en"], body_zh=UPDATED["body_zh"],
        body_en=UPDATED["body_en"], status=UPDATED["status"], revised_by="press-wu",
    )  # fmt: skip
    await repository.save(notice)
    await expect(changed).to_contain_text("The text changed since this form was opened", timeout=BOUND_MS)
    await expect(editor.get_by_label(LABELS["body_en"])).to_have_value("Typed here, not saved yet.")
    await expect(editor.get_by_label(LABELS["body_en"])).to_be_focused()
    await page.screenshot(path=shots / "01-changed-under-the-form.png", full_page=True)

    notice.cancel("wrong district", by="press-wu")
    await repository.save(notice)
    await expect(changed).to_contain_text(
        "This notice is now cancelled: it cannot be revised.", timeout=BOUND_MS
    )
    await editor.get_by_role("button", name="放弃 Discard").click()
    await expect(editor).to_have_count(0)
    await page.close()


async def repository_notice(stack: Stack, nc: Any, notice_id: UUID) -> Notice:
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    return await repository.get(notice_id, Notice)
