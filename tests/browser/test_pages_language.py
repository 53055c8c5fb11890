"""What a screen reader says on each page, in headless Chromium against the real API and projector.

An accessibility review (WCAG 2.2 AA) found English read with the Chinese voice (3.1.2): the pages are
lang="zh-Hans", and the English half of labels, buttons, table headers and messages had no lang="en" (387 of 587
English text nodes on /department, the operator's seven-step scripts among them). It found the board's map telling
P1 from P2 by colour alone (1.5:1) with a name saying no level, and 139 "签收 Accept" buttons on /department read
alike, as the operator's "Settle the call with this" were. Screenshots under test-output/browser/<test name>/.
"""

from __future__ import annotations

import re
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
from services.triage.incidents import incident_title
from tests.browser.conftest import Stack
from tests.browser.test_board_pages import ready, sign_in
from tests.browser.test_operator_page import _json, _until
from tests.browser.test_pages_reflow import notices_with_every_action
from tests.integration.operator.helpers import aggregates, assess
from tests.integration.projections.typhoon_night import typhoon_night

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
BOUND_MS = 10_000
# None of the typhoon night's cases is theirs: the queue holds this test's cases only, whose descriptions (a caller's
# words, data in whatever language they came) are Chinese.
DEPARTMENT = "civil_affairs"

# What is not checked, and why. A selector's text nodes are left out.
EXCEPTIONS = {
    # HTML allows no markup in an <option>: a select is named by its label, which is marked.
    "option": "an option holds text only",
    # An image's parts are not read out: its name and description are (the map's, test below).
    "svg[role=img]": "the board's map is one image",
    # Who wrote or approved a notice, as the tokens name them ("browser test press"): people's names, data.
    "#notices td:nth-child(4), #notices td:nth-child(5)": "author and approver names",
}
# Each visible text node with an English word in it (three Latin letters or more, once tracking codes are taken
# out) and no lang="en" around it: "<its text> (in <the nearest id>)".
UNMARKED = """(skipped) => {
  const offenders = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const drawn = (node) => {
    const range = document.createRange();
    range.selectNodeContents(node);
    return [...range.getClientRects()].some((r) => r.width > 0 && r.height > 0)
      && node.parentElement.checkVisibility({ visibilityProperty: true });
  };
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!/[A-Za-z]{3,}/.test(node.data.replace(/\\bLV-[0-9A-Z]+/g, "")) || !parent || parent.closest(skipped)) continue;
    const lang = parent.closest("[lang]")?.getAttribute("lang") || "";
    if (!lang.startsWith("en") && drawn(node)) {
      offenders.push(`${node.data.trim()} (in #${parent.closest("[id]")?.id || parent.tagName})`);
    }
  }
  return offenders;
}"""
SKIPPED = ", ".join(EXCEPTIONS)


async def unmarked(page: Any) -> list[str]:
    return list(await page.evaluate(UNMARKED, SKIPPED))


def civil_case(description: str, *, accepted: bool = False) -> Complaint:
    """A shelter complaint with the civil affairs bureau, assessed P2, waiting to be signed for or signed for."""
    case = Complaint.receive(channel="hotline", description=description, received_by="hotline", category="shelter",
                             district="westbay", people_affected=3, vulnerable=["elderly"])  # fmt: skip
    now = datetime.now(UTC)
    case.validate()
    case.assess_priority(55, "P2", [], accept_by=now + timedelta(hours=1), resolve_by=now + timedelta(days=1))
    case.dispatch(DEPARTMENT, by="dispatch", reason="shelter")
    if accepted:
        case.accept(DEPARTMENT)
        case.escalate(1, "接近期限 near its deadline", by="deadline-watcher")
    return case


async def department_cases(repository: AggregateStore) -> list[Complaint]:
    """Two cases of one incident with the civil affairs bureau: one to sign for, one signed for and escalated."""
    incident = Incident.declare(title=incident_title("shelter", "westbay"), kind="shelter", districts=["westbay"],
                                declared_by="triage")  # fmt: skip
    cases = [civil_case("避难所人满，需要加床"), civil_case("避难所缺饮用水", accepted=True)]
    for case in cases:
        case.link_to_incident(incident.id)
        incident.link_complaint(case.id)
    await repository.save(incident, *cases)
    return cases


async def resolved_call(stack: Stack, store: JetStreamEventStore, operator: str) -> dict[str, Any]:
    """A call filed on the card, resolved by the power bureau: it waits for its follow-up call."""
    body = {"complaint": {"channel": "hotline", "description": "诊所停电", "category": "power_outage",
                          "location": {"district": "riverside"}, "reporter": {"phone": "+86 137 1111 2222"}}}  # fmt: skip
    filed = dict(await _json(stack, "POST", "/api/v1/operator/calls", operator, body))
    await assess(store, filed["id"], "P2")
    repository = aggregates(store)
    case = await repository.get(UUID(filed["id"]), Complaint)
    case.dispatch("power", by="dispatch", reason="category route")
    case.accept("power")
    case.resolve("power", "已恢复供电")
    await repository.save(case)
    return filed


async def test_no_page_leaves_english_for_the_chinese_voice(
    stack: Stack, browser: Any, shots: Path, store: JetStreamEventStore
) -> None:
    command, press, operator = (
        await stack.token("command"),
        await stack.token("press"),
        await stack.token("operator"),
    )
    department = await stack.token(f"department:{DEPARTMENT}")
    await ready(stack, command)
    repository = AggregateStore(store, make_mapper())
    await repository.save(*typhoon_night(small=4).aggregates)
    cases = await department_cases(repository)
    await notices_with_every_action(stack, press, command)
    call = await resolved_call(stack, store, operator)

    async def follow_up_queued() -> bool:
        queue = await _json(stack, "GET", "/api/v1/operator/follow-ups", operator)
        return any(item["tracking_code"] == call["tracking_code"] for item in queue["items"])

    await _until("the call in the follow-up queue", follow_up_queued)

    found: dict[str, list[str]] = {}
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(page, f"{stack.url}/board", command)
    await page.wait_for_selector("#conn[data-state=live]", timeout=BOUND_MS)
    await expect(page.locator("#escalated tr[data-id]")).to_have_count(4, timeout=BOUND_MS)
    await expect(page.locator("#map svg")).to_be_attached()
    found["board"] = await unmarked(page)
    await page.screenshot(path=shots / "board.png", full_page=True)
    await page.close()

    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(page, f"{stack.url}/department", department)
    await expect(page.locator("#queue tr[data-id]")).to_have_count(2, timeout=BOUND_MS)
    await expect(page.locator("#incidents tr[data-incident]")).to_have_count(1)
    found["department"] = await unmarked(page)
    await page.screenshot(path=shots / "department.png", full_page=True)
    # What an action came to, as say() shows it: "LV-…: 已签收 accepted", at the row.
    row = page.locator(f"#queue tr[data-id='{cases[0].id}']")
    await row.get_by_role("button", name="签收 Accept").click()
    said = page.get_by_role("status").filter(has_text=f"{cases[0].tracking_code}: 已签收 accepted")
    await expect(said).to_have_count(1, timeout=BOUND_MS)
    found["department, once a case is signed for"] = await unmarked(page)
    await page.screenshot(path=shots / "department-signed-for.png", full_page=True)
    await page.close()

    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await sign_in(page, f"{stack.url}/operator", operator)
    await expect(page.locator("#steps li")).to_have_count(7, timeout=BOUND_MS)
    await expect(page.locator("#facts .use-answer").first).to_be_visible(timeout=BOUND_MS)
    follow = page.locator(f"#followups tr[data-code='{call['tracking_code']}']")
    await expect(follow).to_be_visible(timeout=BOUND_MS)
    await follow.locator(".fu-record").click()  # no outcome chosen: the row says so
    await expect(follow.locator(".fu-hint")).to_have_text("请先选择回访结果 choose the outcome first")
    found["operator"] = await unmarked(page)
    await page.screenshot(path=shots / "operator.png", full_page=True)
    await page.close()

    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(page, f"{stack.url}/press", press)
    await expect(page.locator("#notices tr[data-id]")).to_have_count(3, timeout=BOUND_MS)
    found["press"] = await unmarked(page)
    await page.screenshot(path=shots / "press.png", full_page=True)
    await page.close()

    page = await browser.new_page(viewport={"width": 1000, "height": 900})
    await page.goto(f"{stack.url}/status/{call['tracking_code']}")
    await expect(page.locator("#h-result")).to_contain_text(call["tracking_code"], timeout=BOUND_MS)
    await expect(page.locator("#notices article")).to_have_count(1, timeout=BOUND_MS)
    found["status"] = await unmarked(page)
    await page.screenshot(path=shots / "status.png", full_page=True)
    await page.close()

    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(page, f"{stack.url}/reports", command)
    await expect(page.locator("#timing tr").first).to_contain_text("P", timeout=BOUND_MS)
    found["reports"] = await unmarked(page)
    await page.screenshot(path=shots / "reports.png", full_page=True)
    await page.close()

    unread = {where: texts for where, texts in found.items() if texts}
    assert unread == {}, "\n".join(
        f"{where}: {len(texts)} unmarked, e.g. {texts[:6]}" for where, texts in unread.items()
    )


async def test_the_map_names_its_points_per_level_and_draws_each_level_its_own_shape(
    stack: Stack, browser: Any, shots: Path, nc: Any
) -> None:
    command = await stack.token("command")
    await ready(stack, command)
    night = typhoon_night(small=4)
    await AggregateStore(JetStreamEventStore(nc, stack.settings.stream_spec), make_mapper()).save(
        *night.aggregates
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await sign_in(page, f"{stack.url}/board", command)
    await expect(page.locator("[data-testid=count-P1]")).to_have_text("12", timeout=BOUND_MS)
    board = await _json(stack, "GET", "/api/v1/board", command)
    per_level = {level: sum((p["level"] or "unassessed") == level for p in board["map"])
                 for level in ("P1", "P2", "P3", "P4", "unassessed")}  # fmt: skip
    assert per_level["P1"] and per_level["P2"] and per_level["P3"], per_level

    amap = page.locator("#map svg[role=img]")
    english = ", ".join(f"{level} {n}" for level, n in per_level.items())
    await expect(amap).to_have_accessible_name(re.compile(rf"{len(board['map'])} on the map: {english}\.$"))
    await expect(amap).to_have_accessible_name(
        re.compile(rf"：P1 {per_level['P1']} 件，P2 {per_level['P2']} 件，")
    )
    await expect(amap).to_have_accessible_description(re.compile(r"Open by district: .*Old Town \d+"))
    # A level is a shape as well as a colour: P1 and P2 are 1.5:1 apart in colour alone.
    shapes = await page.evaluate(
        """() => Object.fromEntries(["P1", "P2", "P3"].map((level) => [level,
          [...new Set([...document.querySelectorAll(`#map .dot.${level}`)].map((dot) => dot.tagName
            + (dot.tagName === "polygon" ? dot.getAttribute("points").split(" ").length : "")))]]))"""
    )
    assert shapes == {"P1": ["polygon3"], "P2": ["polygon4"], "P3": ["rect"]}, shapes
    await page.locator("#h-map").scroll_into_view_if_needed()
    await page.locator("section[aria-labelledby=h-map]").screenshot(path=shots / "01-map-shapes.png")
    await page.close()


async def test_a_row_button_names_the_case_it_acts_on_and_settle_names_its_answer(
    stack: Stack, browser: Any, shots: Path, store: JetStreamEventStore
) -> None:
    department, operator = await stack.token(f"department:{DEPARTMENT}"), await stack.token("operator")
    await ready(stack, await stack.token("command"))
    cases = await department_cases(AggregateStore(store, make_mapper()))
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await sign_in(page, f"{stack.url}/department", department)
    accept = page.locator(f"#queue tr[data-id='{cases[0].id}']").get_by_role("button", name="签收 Accept")
    await expect(accept).to_have_accessible_description(cases[0].tracking_code, timeout=BOUND_MS)
    resolve = page.locator(f"#queue tr[data-id='{cases[1].id}']").get_by_role("button", name="办结 Resolve")
    await expect(resolve).to_have_accessible_description(cases[1].tracking_code)
    await page.close()

    await _until("the operator's reads", lambda: _json(stack, "GET", "/api/v1/operator/follow-ups", operator))
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    await sign_in(page, f"{stack.url}/operator", operator)
    answers = page.locator("#facts .fact[data-ref^='answer:']")
    await expect(answers.first).to_be_visible(timeout=BOUND_MS)

    for answer in await answers.all():  # each Settle button is described by its answer's title
        title = (await answer.locator("b").first.text_content() or "").strip()
        settle = answer.get_by_role("button", name="用此答复当场办结 Settle the call with this")
        await expect(settle).to_have_accessible_description(title)
    assert len(await answers.all()) >= 5
    await page.screenshot(path=shots / "01-operator-answers.png")
    await page.close()
