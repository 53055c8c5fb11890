"""The board's "合并 Merge into…" in headless Chromium, against the real API, projector and triage worker.

A drill's burst main: one event came in as two "Medical access in Old Town" incidents and a Water outage. Command
merges the smaller medical one into the larger; triage moves its complaints and the board shows one incident
with all of them. A merge the API refuses (the chosen target was merged meanwhile) is said on the page.
Screenshots go to test-output/browser/<test name>/.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.triage.app import build_worker
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import LIVE_BOUND_MS, post, ready, sign_in
from tests.integration.triage.test_triage_worker import DEPS

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
MEDICAL = "Medical access in Old Town · 老城区就医受阻"


def _case(level: str) -> Complaint:
    case = Complaint.receive(
        channel="hotline", description="Road to the clinic cut off", received_by="hotline",
        category="medical_access", district="old_town",
    )  # fmt: skip
    case.validate(by="triage")
    now = datetime.now(UTC)
    case.assess_priority(
        80, level, [], accept_by=now + timedelta(minutes=15), resolve_by=now + timedelta(hours=4)
    )
    return case


async def incident(store: JetStreamEventStore, title: str, kind: str, cases: int, level: str = "P2") -> UUID:
    declared = Incident.declare(title=title, kind=kind, districts=["old_town"], declared_by="triage")
    linked = [_case(level) for _ in range(cases)]
    for case in linked:
        case.link_to_incident(declared.id)
        declared.link_complaint(case.id)
    await AggregateStore(store, make_mapper()).save(declared, *linked)
    return declared.id


async def triage(store: JetStreamEventStore) -> None:
    worker = build_worker(store, DEPS)
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass


async def test_command_merges_one_incident_into_another_from_the_board(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    first = await incident(store, MEDICAL, "medical_access", 8, level="P1")
    second = await incident(store, MEDICAL, "medical_access", 4)
    water = await incident(store, "Water outage in Old Town · 老城区停水", "water_outage", 3)

    board = await browser.new_page(viewport={"width": 1500, "height": 1100})
    await sign_in(board, f"{stack.url}/board", command)
    rows = board.locator("#incidents tr[data-id]")
    await expect(rows).to_have_count(3, timeout=10_000)
    # Two of one name are told apart by the start of their ids; the water outage keeps its name alone.
    for same in (first, second):
        title = board.locator(f"#incidents tr[data-id='{same}'] td.title")
        await expect(title).to_have_text(f"{MEDICAL} · #{str(same)[:4]}")
    await expect(board.locator(f"#incidents tr[data-id='{water}'] td.title")).to_have_text(
        "Water outage in Old Town · 老城区停水"
    )
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-two-medical-incidents.png", full_page=True)

    await board.locator(f"#incidents tr[data-id='{second}']").get_by_role("button", name="合并").click()
    form = board.locator("#merge")
    await expect(form).to_be_visible()
    options = board.locator("#merge-into option")
    await expect(options).to_have_count(2)  # the other active incidents, never itself
    await board.get_by_label("并入 Merge into").select_option(str(first))
    await board.get_by_label("理由（必填） Reason (required)").fill("同一起道路塌方 one road collapse")
    await form.screenshot(path=shots / "02-merge-form.png")
    await board.get_by_role("button", name="合并 Merge", exact=True).click()

    await expect(board.locator("#incidents-message")).to_contain_text(
        "已并入 merged into", timeout=LIVE_BOUND_MS
    )
    await expect(rows).to_have_count(2, timeout=LIVE_BOUND_MS)
    await expect(form).to_be_hidden()
    await triage(store)  # moves the four complaints of the merged incident
    survivor = board.locator(f"#incidents tr[data-id='{first}']")
    await expect(survivor.locator("td.num").nth(-1)).to_have_text("12", timeout=LIVE_BOUND_MS)  # total
    await board.screenshot(path=shots / "03-merged.png", full_page=True)

    # A stale choice: the water outage is merged elsewhere (another desk) while this form is open.
    await board.locator(f"#incidents tr[data-id='{first}']").get_by_role("button", name="合并").click()
    await board.get_by_label("并入 Merge into").select_option(str(water))
    await post(
        stack, f"/api/v1/incidents/{water}/merge", {"into": str(first), "reason": "one event"}, command
    )
    await board.get_by_label("理由（必填） Reason (required)").fill("try")
    await board.get_by_role("button", name="合并 Merge", exact=True).click()
    message = board.locator("#merge-message")  # in the form, where the officer is
    await expect(message).to_contain_text("合并失败 not merged", timeout=LIVE_BOUND_MS)
    await expect(message).to_have_class("message error")
    # Said in both languages, the incident by its title: it was "409: The target incident was itself merged
    # into 6f1c…-…; merge into that one." in English only.
    await expect(message).to_contain_text(f"所选事件已并入「{MEDICAL}」，请改为并入该事件")
    await expect(message).to_contain_text(f'the incident chosen was itself merged into "{MEDICAL}"')
    await expect(message).not_to_contain_text(str(first))
    await expect(message).to_contain_text(
        "→ Water outage in Old Town · 老城区停水: 合并失败"
    )  # by its name alone
    await expect(message).to_be_in_viewport()
    await board.screenshot(path=shots / "04-refused.png", full_page=True)
    await board.close()
