"""The department page's incidents panel in headless Chromium: the Power Supply Bureau's duty desk signs for
all 30 cases of one outage with one click, then resolves them all with one note. Real API and projector.
Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.complaint import Complaint
from events.complaint_rules import Status
from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 5000


async def outage(repository: AggregateStore) -> tuple[Incident, list[Complaint]]:
    """30 cases with power and 2 with water, all from one substation failure (as dispatch left them)."""
    incident = Incident.declare(
        title="Power outage in Old Town 老城区停电",
        kind="substation_failure",
        districts=[],
        declared_by="command",
    )
    now = datetime.now(UTC)
    cases = []
    for department in ["power"] * 30 + ["water"] * 2:
        case = Complaint.receive(
            channel="hotline", description="停电 no power since 02:10", received_by="hotline"
        )
        case.validate()
        case.assess_priority(
            55, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1)
        )
        case.dispatch(department, by="dispatch", reason="substation failure")
        case.link_to_incident(incident.id)
        incident.link_complaint(case.id)
        cases.append(case)
    await repository.save(incident, *cases)
    return incident, cases


async def test_the_duty_desk_accepts_and_resolves_a_whole_incident_from_the_panel(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command, power = await stack.token("command"), await stack.token("department:power")
    await ready(stack, command)
    repository = AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper())
    incident, cases = await outage(repository)

    desk = await browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in(desk, f"{stack.url}/department", power)
    row = desk.locator(f"#incidents tr[data-incident='{incident.id}']")
    await expect(row.locator("[data-count=dispatched]")).to_have_text("30", timeout=BOUND_MS)
    await expect(row.locator("[data-count=accepted]")).to_have_text("0")
    await expect(row.get_by_role("button", name="全部办结 Resolve all…")).to_be_disabled()
    await desk.screenshot(path=shots / "01-incident-panel.png")

    await row.get_by_role("button", name="全部签收 Accept all").click()
    await expect(row.get_by_role("status")).to_contain_text("已签收 30 件", timeout=BOUND_MS)  # at the row
    await expect(row.locator("[data-count=accepted]")).to_have_text("30", timeout=BOUND_MS)
    await expect(row.locator("[data-count=dispatched]")).to_have_text("0")
    await expect(desk.locator("#queue tr[data-status=accepted]")).to_have_count(30, timeout=BOUND_MS)
    await desk.screenshot(path=shots / "02-all-accepted.png")
    power_cases = [c for c in cases if c.department == "power"]
    for case in power_cases:
        assert (await repository.get(case.id, Complaint)).status == Status.ACCEPTED
    for case in cases[30:]:
        assert (await repository.get(case.id, Complaint)).status == Status.DISPATCHED  # water's, untouched

    confirmed: list[str] = []

    async def confirm(dialog: Any) -> None:
        confirmed.append(dialog.message)
        await dialog.accept()

    desk.on("dialog", confirm)
    await row.get_by_role("button", name="全部办结 Resolve all…").click()
    await desk.get_by_label("What was done").fill(
        "变电站已恢复供电 Substation 3 back on line; supply restored"
    )
    await desk.screenshot(path=shots / "03-resolve-all-note.png")
    await desk.get_by_role("button", name="提交 Submit").click()
    await expect(row).to_have_count(0, timeout=BOUND_MS)  # nothing of it is held any more
    # Said in a line where the incident's row was.
    said = desk.locator(f"#incidents tr[data-gone='{incident.id}'] [role=status]")
    await expect(said).to_contain_text("已办结 30 件", timeout=BOUND_MS)
    assert confirmed and "30" in confirmed[0]
    await desk.screenshot(path=shots / "04-all-resolved.png")
    for case in power_cases:
        assert (await repository.get(case.id, Complaint)).status == Status.RESOLVED
    await desk.close()
