"""The board's "可能是同一事件 Possibly one event" in headless Chromium, against the real API, projector and triage.

A drill: one burst main in Newfield came in as Water outage, Flooding and Road blocked, a few hundred metres
apart; a substation failure in Old Town as Power outage and Medical access. The board suggests both above the
incidents table. Command says the Old Town pair is not one event (hidden for the session), and merges the
Newfield three from their suggestion into the largest; the suggestion goes, one incident holds every report.
Screenshots go to test-output/browser/<test name>/.
"""

from __future__ import annotations

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
from tests.browser.conftest import Stack, box_of
from tests.browser.test_board_merge import triage
from tests.browser.test_board_pages import LIVE_BOUND_MS, ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
NEWFIELD, OLD_TOWN = (22.775, 114.1375), (22.525, 114.1375)
KM = 1 / 111.195  # one kilometre north, in degrees


def _case(kind: str, lat: float, lon: float) -> Complaint:
    case = Complaint.receive(
        channel="hotline", description=f"{kind} drill", received_by="hotline", category=kind, lat=lat, lon=lon
    )
    case.validate(by="triage")
    now = datetime.now(UTC)
    case.assess_priority(
        60, "P2", [], accept_by=now + timedelta(minutes=30), resolve_by=now + timedelta(hours=4)
    )
    return case


async def incident(
    store: JetStreamEventStore,
    title: str,
    kind: str,
    at: tuple[float, float],
    cases: int,
    north_km: float = 0,
) -> UUID:
    declared = Incident.declare(title=title, kind=kind, districts=[], declared_by="triage")
    linked = [_case(kind, at[0] + (north_km + n * 0.05) * KM, at[1]) for n in range(cases)]
    for case in linked:
        case.link_to_incident(declared.id)
        declared.link_complaint(case.id)
    await AggregateStore(store, make_mapper()).save(declared, *linked)
    return declared.id


async def test_command_merges_a_suggested_event_into_its_largest_incident(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    store = JetStreamEventStore(nc, stack.settings.stream_spec)
    water = await incident(store, "Water outage in Newfield · 新田区停水", "water_outage", NEWFIELD, 5)
    await incident(store, "Flooding in Newfield · 新田区内涝", "flooding", NEWFIELD, 3, north_km=0.3)
    await incident(
        store, "Road blocked in Newfield · 新田区道路阻断", "road_blocked", NEWFIELD, 2, north_km=0.5
    )
    power = await incident(store, "Power outage in Old Town · 老城区停电", "power_outage", OLD_TOWN, 4)
    await incident(
        store, "Medical access in Old Town · 老城区就医受阻", "medical_access", OLD_TOWN, 2, north_km=0.8
    )

    board = await browser.new_page(viewport={"width": 1500, "height": 1000})
    await sign_in(board, f"{stack.url}/board", command)
    rows = board.locator("#incidents tr[data-id]")
    await expect(rows).to_have_count(5, timeout=10_000)
    suggestions = board.locator("#suggestions li.suggestion")
    await expect(suggestions).to_have_count(1)  # one line: the closest, and a button for the others
    newfield = board.locator(f"#suggestions li[data-incidents*='{water}']")
    old_town = board.locator(f"#suggestions li[data-incidents*='{power}']")
    await expect(newfield).to_contain_text("可能是同一事件 Possibly one event:")
    await expect(newfield.locator(".titles")).to_have_text(
        "Water outage in Newfield · 新田区停水 · Flooding in Newfield · 新田区内涝 · Road blocked in Newfield · 新田区道路阻断"
    )
    await expect(newfield).to_contain_text("km apart")
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "01-suggested.png")

    # On a phone the line wraps under its titles: the titles were squeezed to a column a word wide.
    await board.set_viewport_size({"width": 390, "height": 844})
    what = await box_of(newfield.locator(".what"), "the suggestion's line")
    assert what["width"] > 250, what
    await newfield.scroll_into_view_if_needed()
    await expect(newfield.locator(".acts")).to_be_in_viewport(ratio=1)
    await board.screenshot(path=shots / "01b-suggested-on-a-phone.png")
    await board.set_viewport_size({"width": 1500, "height": 1000})
    more = newfield.get_by_role("button", name="还有 1 条 1 more")
    await more.click()
    await expect(suggestions).to_have_count(2)
    await expect(old_town).to_contain_text(
        "Power outage in Old Town · 老城区停电 · Medical access in Old Town"
    )
    await expect(newfield.get_by_role("button", name="只看第一条 First only")).to_have_attribute(
        "aria-expanded", "true"
    )
    await board.screenshot(path=shots / "02-both.png")

    await old_town.get_by_role("button", name="不是 Not one event").click()
    await expect(suggestions).to_have_count(1)
    await expect(old_town).to_have_count(0)
    await expect(newfield.locator("button.more-suggestions")).to_have_count(0)  # nothing more to show

    await newfield.get_by_role("button", name="合并到最大的 Merge into the largest…").click()
    form = board.locator("#merge")
    await expect(form).to_be_visible()
    await expect(board.locator("#merge-title")).to_contain_text("合并为一个事件")
    await expect(board.locator("#merge-into option")).to_have_count(3)  # the group only
    await expect(board.get_by_label("并入 Merge into")).to_have_value(str(water))  # the largest
    await board.get_by_label("理由（必填） Reason (required)").fill("同一处爆管 one burst main")
    await board.locator("#h-incidents").scroll_into_view_if_needed()
    await board.screenshot(path=shots / "03-merge-form.png")
    await board.get_by_role("button", name="合并 Merge", exact=True).click()

    message = board.locator("#incidents-message")
    await expect(message).to_contain_text(
        "已并入 merged into Water outage in Newfield", timeout=LIVE_BOUND_MS
    )
    await expect(message).to_contain_text("Flooding in Newfield · 新田区内涝 · Road blocked in Newfield")
    await expect(rows).to_have_count(3, timeout=LIVE_BOUND_MS)
    await expect(board.locator(f"#suggestions li[data-incidents*='{water}']")).to_have_count(0)
    await expect(board.locator("#suggestions")).to_be_hidden()  # and the Old Town pair is still dismissed
    await expect(form).to_be_hidden()
    await triage(store)  # moves the five complaints of the two merged incidents
    survivor = board.locator(f"#incidents tr[data-id='{water}']")
    await expect(survivor.locator("td.num").nth(-1)).to_have_text("10", timeout=LIVE_BOUND_MS)  # total
    await board.screenshot(path=shots / "04-merged.png", full_page=True)
    await board.close()
