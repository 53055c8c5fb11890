"""Public reads: status by tracking code, published notices, reference data and Open311 GET requests.
None of them may carry a complainant's personal data; the reporter's name, phone and email are searched for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

import asyncpg
import pytest

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.notice import SUMMARY_AUTHOR, Notice
from events.publishing.notice_view import SUMMARY_EXPIRES
from events.reference import load_reference
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, assert_no_personal_data, flood_report, read_api
from tests.support.notices import approval_of


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_public_status_by_tracking_code_carries_no_personal_data(api: Harness) -> None:
    received = await api.submit(flood_report())
    await api.project()
    code = received["tracking_code"]
    response = await api.get(f"/api/v1/status/{code}")
    assert response.status == 200
    status = await response.json()
    assert status["tracking_code"] == code
    assert status["status"] == "received" and status["category"] == "flooding"
    assert status["district"] == "riverside"
    assert set(status) == {"tracking_code", "status", "category", "district", "received_at", "accepted_at",
                           "resolved_at", "closed_at", "updated_at", "expected_by", "progress", "notices", "reason"}  # fmt: skip
    assert status["reason"] is None  # only a complaint not accepted has one
    assert status["notices"] == []  # in no incident
    assert_no_personal_data(await response.text())
    assert "trapped" not in await response.text()  # the free text is not public either


async def test_the_links_intake_hands_out_work_at_once_before_the_read_models_catch_up(api: Harness) -> None:
    received = await api.submit(flood_report())
    code, links = received["tracking_code"], received["links"]
    assert links["status"] == f"/api/v1/status/{code}"
    early = await api.get_json(links["status"])  # not projected yet: the code's claim in the stream answers
    assert (early["tracking_code"], early["status"], early["category"]) == (code, "received", None)
    assert early["received_at"] is not None and early["progress"] == []
    page = await api.get(links["public_status"])
    assert page.status == 200 and page.content_type == "text/html"
    # An SMS app's link often ends in a slash: it leads to the page, not to a JSON "Not Found".
    slashed = await api.client.get(links["public_status"] + "/", allow_redirects=False)
    assert slashed.status == 301 and slashed.headers["Location"] == links["public_status"]
    await api.project()
    assert (await api.get_json(links["status"]))["category"] == "flooding"  # now the read model's view
    missing = await api.get("/api/v1/status/LV-222222")
    assert missing.status == 404 and missing.content_type == "application/problem+json"


async def test_public_status_shows_public_progress_in_public_words(api: Harness) -> None:
    status = await api.get_json(f"/api/v1/status/{api.day.codes['long']}")
    assert status["status"] == "closed"
    assert [p["text"] for p in status["progress"]] == [
        "Pump truck on its way"
    ]  # the internal note is not shown
    assert_no_personal_data(status)


async def test_public_status_says_by_when_while_the_case_is_handled_and_not_after(api: Harness) -> None:
    """A label alone left a resident guessing what comes next and when (found by a review of the public pages);
    Open311 already gave the same case's resolve-by as expected_datetime."""
    rows = {key: await api.get_json(f"/api/v1/status/{api.day.codes[key]}") for key in ("handling", "long")}
    handling, ended = rows["handling"], rows["long"]
    assert handling["status"] == "in_progress" and handling["expected_by"] is not None
    open311 = await api.get_json(f"/open311/v2/requests/{api.day.codes['handling']}.json")
    expected = datetime.fromisoformat(handling["expected_by"]).replace(microsecond=0)  # W3C: whole seconds
    assert expected == datetime.fromisoformat(open311[0]["expected_datetime"].replace("Z", "+00:00"))
    assert ended["status"] == "closed" and ended["expected_by"] is None


async def test_a_complaint_not_accepted_tells_the_public_why(api: Harness) -> None:
    """DOMAIN: invalid "with the reason told to the caller". A citizen who filed on the web, with no phone, has
    only this page: it said "not accepted" and nothing more (found by a review of what citizens meet)."""
    complaint = Complaint.receive(
        channel="web", description="asdf", received_by="public", lat=22.70, lon=113.80
    )
    reason = "无效：没有明确的投诉对象和事实 (no clear target or facts)"
    complaint.reject(reason, by="triage")
    await AggregateStore(api.store, make_mapper()).save(complaint)
    await api.project()
    status = await api.get_json(f"/api/v1/status/{complaint.tracking_code}")
    assert (status["status"], status["reason"]) == ("not_accepted", reason)
    assert status["closed_at"] is not None


@pytest.mark.parametrize(
    "typed",
    ["{code}", "{lower}", "ＬＶ－{body_wide}", "LV {body}", "LV{body}", "{body}", "LV–{body}", " {code} ",
     "{code}。", "{code}，", "LV：{body}", "「{code}」", "({code})"],
    ids=[
        "as given",
        "lower case",
        "full-width",
        "a space",
        "no dash",
        "no prefix",
        "an en dash",
        "spaces around",
        "a full stop",
        "a comma",
        "a colon",
        "quoted",
        "in brackets",
    ],
)  # fmt: skip
async def test_a_tracking_code_is_found_however_it_was_typed(api: Harness, typed: str) -> None:
    """A Chinese keyboard gives full-width characters, an SMS app an en dash, a person drops the prefix, a copy
    from an SMS brings the punctuation around it (a review of the public pages found 。 ， and ： answered 404)."""
    code = (await api.submit(flood_report()))["tracking_code"]
    body = code.removeprefix("LV-")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in body)
    path = typed.format(code=code, lower=code.lower(), body=body, body_wide=wide)
    found = await api.get_json(f"/api/v1/status/{quote(path)}")
    assert found["tracking_code"] == code


@pytest.mark.parametrize("code", ["LV-NOSUCH", "x" * 40])
async def test_unknown_tracking_code_is_404(api: Harness, code: str) -> None:
    response = await api.get(f"/api/v1/status/{code}")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_published_notices_show_the_published_text_only(api: Harness) -> None:
    notices = await api.get_json("/api/v1/notices")
    assert [n["id"] for n in notices["items"]] == [str(api.day.notices["published"])]
    notice = notices["items"][0]
    # The update waits for approval: the public still reads the first published text.
    assert notice["body_en"] == "Pumps deployed." and notice["title_zh"] == "河畔区内涝"
    by_incident = await api.get_json("/api/v1/notices", incident=str(api.day.incident))
    assert len(by_incident["items"]) == 1
    assert (await api.get("/api/v1/notices", incident="nope")).status == 422


async def test_working_notices_are_for_press_and_command(api: Harness) -> None:
    for role in ("press", "command"):
        items = (await api.get_json("/api/v1/staff/notices", role))["items"]
        states = {n["id"]: n["state"] for n in items}
        assert states == {
            str(api.day.notices["published"]): "updated",
            str(api.day.notices["cancelled"]): "cancelled",
        }
        # What command's approval names: the digest of the working text it is shown (the update in waiting).
        waiting = await AggregateStore(api.store, make_mapper()).get(api.day.notices["published"], Notice)
        [shown] = [n for n in items if n["id"] == str(waiting.id)]
        assert shown["text_sha256"] == waiting.text_digest()
    assert (await api.get("/api/v1/staff/notices")).status == 401
    assert (await api.get("/api/v1/staff/notices", "department:water")).status == 403


NOTICE = {"title_en": "Harbour Road flooding", "title_zh": "海港路水浸", "status": "identified",
          "body_en": "Crews are pumping water; avoid the area.", "body_zh": "正在抽水，请绕行。"}  # fmt: skip


async def _notice_step(api: Harness, path: str, role: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.post(path, json=body, headers=await api.headers(role))
    assert response.status in (200, 201), (path, response.status, await response.text())
    return dict(await response.json())


async def test_a_revised_text_shows_nobody_approved_it_and_waits_in_its_own_state(api: Harness) -> None:
    """Press revised a text command had approved: nobody has approved the new words, and the press page must
    say so. It showed the earlier approver beside them; and a notice never published read "updated" (a
    change to what the public reads) instead of "draft"."""
    fresh = await _notice_step(api, "/api/v1/notices", "press", NOTICE)
    live = await _notice_step(api, "/api/v1/notices", "press", NOTICE)
    revised = {**NOTICE, "body_en": "Crews are pumping water; the road reopens at 18:00."}
    for notice, published in ((fresh, False), (live, True)):
        base = f"/api/v1/notices/{notice['id']}"
        if published:
            await _notice_step(api, f"{base}/approve", "command", approval_of(NOTICE))
            await _notice_step(api, f"{base}/publish", "press", {})
            await _notice_step(api, f"{base}/update", "press", {**NOTICE, "status": "monitoring"})
            await _notice_step(
                api, f"{base}/approve", "command", approval_of({**NOTICE, "status": "monitoring"})
            )
        else:
            await _notice_step(api, f"{base}/approve", "command", approval_of(NOTICE))
        await api.project()
        [approved] = [n for n in (await api.get_json("/api/v1/staff/notices", "press"))["items"]
                      if n["id"] == notice["id"]]  # fmt: skip
        assert (approved["state"], approved["approved_by"]) == ("approved", "test command")
        await _notice_step(api, f"{base}/revise", "press", revised)
    await api.project()
    shown = {n["id"]: n for n in (await api.get_json("/api/v1/staff/notices", "press"))["items"]}
    assert (shown[fresh["id"]]["state"], shown[fresh["id"]]["approved_by"]) == ("draft", None)
    assert (shown[live["id"]]["state"], shown[live["id"]]["approved_by"]) == ("updated", None)
    assert shown[live["id"]]["public_status"] == "identified"  # the public still reads the published text
    assert shown[fresh["id"]]["body_en"] == revised["body_en"]


async def test_reference_data_is_public_and_has_district_boxes(api: Harness) -> None:
    ref = await api.get_json("/api/v1/reference")
    assert len(ref["districts"]) == 8
    box = ref["districts"][0]["bbox"]
    assert box["south"] < box["north"] and box["west"] < box["east"]
    assert {"name_zh", "name_en"} <= set(ref["categories"][0])
    assert ref["area"]["time_zone"] == "Asia/Shanghai"  # the board states and shows times in the city's zone


async def test_me_names_the_tokens_role(api: Harness) -> None:
    assert (await api.get_json("/api/v1/me"))["role"] == "public"
    me = await api.get_json("/api/v1/me", "department:power")
    assert (me["kind"], me["department"]) == ("department", "power")


# -- Open311 GeoReport v2 ------------------------------------------------------------------------------

OPEN311_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


async def test_open311_requests_list_uses_the_specs_fields_and_no_personal_data(api: Harness) -> None:
    await api.submit(flood_report())
    await api.project()
    response = await api.get("/open311/v2/requests.json")
    assert response.status == 200
    requests = await response.json()
    assert len(requests) == len(api.day.complaints) + 1
    assert all(set(r) == OPEN311_FIELDS for r in requests)
    assert {r["status"] for r in requests} == {"open", "closed"}
    newest = requests[0]
    assert newest["service_code"] == "106" and newest["description"] == "Flooding"
    assert newest["address"] == "Riverside" and newest["lat"] == 22.71
    text = await response.text()
    assert_no_personal_data(text)
    assert "trapped" not in text and "Riverside Road" not in text
    # Nor any tracking code: each opens a complaint's status to whoever holds it.
    assert all(r["service_notice"] is None for r in requests)
    assert not any(code in text for code in api.day.codes.values()) and "LV-" not in text


async def test_open311_request_by_the_id_post_answered_with(api: Harness) -> None:
    long = str(api.day.complaints["long"])
    one = await api.get_json(f"/open311/v2/requests/{long}.json")
    assert [r["service_request_id"] for r in one] == [long]
    assert one[0]["status"] == "closed" and one[0]["agency_responsible"] == "Drainage Services"
    # Closed because resolved: it says so and by whom, then the last public note (a review found a closed request
    # saying only "on its way").
    assert (
        one[0]["status_notes"] == "已办结：排水管理处 (resolved by Drainage Services). Pump truck on its way"
    )
    by_code = await api.get_json(f"/open311/v2/requests/{api.day.codes['long']}.json")
    assert by_code == one
    # As /status reads a code, copied with the punctuation an SMS brings (found by a review: 404 here, 200 there).
    copied = quote(api.day.codes["long"].lower() + "，")
    assert await api.get_json(f"/open311/v2/requests/{copied}.json") == one
    assert await api.get_json("/open311/v2/requests.json", service_request_id=api.day.codes["long"] + "。") == one
    missing = await api.get("/open311/v2/requests/6a8f1a3e-3b1c-4c55-9f0e-111111111111.json")
    assert missing.status == 404
    assert (await missing.json())[0]["code"] == 404


async def test_open311_says_why_a_request_was_not_taken_up(api: Harness) -> None:
    """A rejected or duplicate request is closed like a resolved one: status_notes tells them apart (found by a
    review: it was null, while /api/v1/status gave the reason)."""
    day = api.day.complaints
    [rejected] = await api.get_json(f"/open311/v2/requests/{day['rejected']}.json")
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "No clear facts")
    [duplicate] = await api.get_json(f"/open311/v2/requests/{day['duplicate']}.json")
    assert duplicate["status"] == "closed" and "earlier report" in duplicate["status_notes"]


async def test_open311_reads_one_request_by_its_path_and_a_whole_end_date(api: Harness) -> None:
    """Found by a review: `requests/{a},{b}` answered one of the two; a date-only end_date left its own day out."""
    day = api.day.complaints
    both = await api.get(f"/open311/v2/requests/{day['waiting']},{day['handling']}.json")
    assert both.status == 404 and "one id here" in (await both.json())[0]["description"]
    today = (
        datetime.now(load_reference().area.tz).date().isoformat()
    )  # the city's, as dates without an offset
    listed = await api.get_json("/open311/v2/requests.json", start_date=today, end_date=today)
    assert len(listed) == len(day)
    # Its whole day counted, a range of dates 90 days apart is still allowed (found by a review of the change).
    ninety = await api.get("/open311/v2/requests.json", start_date="2026-04-01", end_date="2026-06-30")
    assert ninety.status == 200, await ninety.text()
    over = await api.get("/open311/v2/requests.json", start_date="2026-04-01", end_date="2026-07-01")
    assert over.status == 400
    # Only a date-only end_date gets its day: date-times 90 days and 12 hours apart are over the limit.
    over = await api.get(
        "/open311/v2/requests.json", start_date="2026-04-01T00:00:00Z", end_date="2026-06-30T12:00:00Z"
    )
    assert over.status == 400, await over.text()
    many = ",".join(str(day["waiting"]) for _ in range(201))
    too_many = await api.get("/open311/v2/requests.json", service_request_id=many)
    assert too_many.status == 400 and "at most 200" in (await too_many.json())[0]["description"]


async def test_open311_filters(api: Harness) -> None:
    day = api.day.complaints
    listed = await api.get_json(
        "/open311/v2/requests.json",
        service_request_id=f"{day['waiting']},{api.day.codes['handling']}",
        status="closed",
    )  # service_request_id overrides every other filter, as the spec says
    assert {r["service_request_id"] for r in listed} == {str(day["waiting"]), str(day["handling"])}
    flooding = await api.get_json("/open311/v2/requests.json", service_code="106", status="open")
    assert {r["service_request_id"] for r in flooding} == {str(day["handling"])}
    closed = await api.get_json("/open311/v2/requests.json", status="closed")
    assert str(day["long"]) in {r["service_request_id"] for r in closed}
    assert all(r["status"] == "closed" for r in closed)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await api.get_json("/open311/v2/requests.json", start_date=future) == []
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert len(await api.get_json("/open311/v2/requests.json", start_date=past, end_date=future)) == len(day)


@pytest.mark.parametrize(
    "params",
    [{"status": "pending"}, {"start_date": "yesterday"}, {"service_code": "12345"},
     {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
     {"jurisdiction_id": "elsewhere"}, {"start_date": "0001-01-01T00:00:00+14:00"}],
)  # fmt: skip
async def test_open311_refusals_use_the_specs_error_array(api: Harness, params: dict) -> None:
    response = await api.get("/open311/v2/requests.json", **params)
    assert response.status in (400, 404)
    body = await response.json()
    assert body[0]["code"] == response.status and body[0]["description"]


async def test_public_status_carries_what_was_published_about_its_incident_and_one_merged_into_it(
    api: Harness,
) -> None:
    received = await api.submit(flood_report())
    repository = AggregateStore(api.store, make_mapper())
    flood = Incident.declare(
        title="Flooding in Riverside", kind="flooding", districts=["riverside"], declared_by="cmd"
    )
    underpass = Incident.declare(
        title="Underpass flooded", kind="flooding", districts=["riverside"], declared_by="cmd"
    )
    other = Incident.declare(
        title="Gas leak in Westbay", kind="gas_leak", districts=["westbay"], declared_by="cmd"
    )
    complaint = await repository.get(UUID(received["id"]), Complaint)
    complaint.link_to_incident(flood.id)
    flood.link_complaint(complaint.id)
    notices = [_published(underpass, "Underpass closed"), _published(other, "Gas: keep windows open"),
               _published(flood, "Pumps on site")]  # fmt: skip
    underpass.merge_into(flood, by="cmd", reason="one flood")
    await repository.save(flood, underpass, other, complaint, *notices)
    await api.project()

    status = await api.get_json(f"/api/v1/status/{received['tracking_code']}")
    assert [n["title_en"] for n in status["notices"]] == ["Pumps on site", "Underpass closed"]  # newest first
    assert set(status["notices"][0]) >= {"title_zh", "body_en", "body_zh", "status", "published_at"}
    assert_no_personal_data(status)

    # Merged again, into a third: what was published about the first two still reaches the complaint there
    # (only one merge deep was looked at: found by a review of the notices' life).
    city = Incident.declare(
        title="City-wide flooding", kind="flooding", districts=["riverside"], declared_by="cmd"
    )
    flood = await repository.get(flood.id, Incident)
    complaint = await repository.get(complaint.id, Complaint)
    flood.merge_into(city, by="cmd", reason="one storm")
    complaint.move_to_incident(city.id, flood.id)  # what triage does on IncidentAbsorbed
    await repository.save(flood, city, complaint)
    await api.project()
    status = await api.get_json(f"/api/v1/status/{received['tracking_code']}")
    assert [n["title_en"] for n in status["notices"]] == ["Pumps on site", "Underpass closed"]
    listed = await api.get_json("/api/v1/notices", incident=str(city.id))
    assert [n["title_en"] for n in listed["items"]] == ["Pumps on site", "Underpass closed"]


async def test_an_automatic_summary_leaves_the_public_list_when_its_figures_are_stale(
    api: Harness, database_url: str
) -> None:
    """A review of the public pages found an "investigating, 0 resolved" summary listed for good beside the notice
    that said the incident was resolved; its CAP alert expired after three hours, the JSON and the page never."""
    storm = Incident.declare(title="Storm", kind="flooding", districts=["riverside"], declared_by="cmd")
    stale, fresh = (_published(storm, title, by=SUMMARY_AUTHOR) for title in ("Summary at 07:20", "Summary now"))
    press = _published(storm, "Underpass reopened")
    await AggregateStore(api.store, make_mapper()).save(storm, stale, fresh, press)
    await api.project()
    conn = await asyncpg.connect(database_url)
    try:  # published four hours ago, as if the clock had moved on
        await conn.execute("UPDATE levee_read.notices SET published_at = now() - interval '4 hours' WHERE id = $1",
                           stale.id)  # fmt: skip
    finally:
        await conn.close()
    listed = (await api.get_json("/api/v1/notices", incident=str(storm.id)))["items"]
    assert [n["title_en"] for n in listed] == ["Underpass reopened", "Summary now"]
    by_title = {n["title_en"]: n for n in listed}
    assert by_title["Underpass reopened"]["expires_at"] is None  # press's word stands until updated or withdrawn
    published = datetime.fromisoformat(by_title["Summary now"]["published_at"])
    assert datetime.fromisoformat(by_title["Summary now"]["expires_at"]) - published == SUMMARY_EXPIRES


def _published(incident: Incident, title: str, by: str = "press-li") -> Notice:
    notice = Notice.draft(incident_id=incident.id, title_en=title, title_zh=title, body_en=title, body_zh=title,
                          status="identified", drafted_by=by)  # fmt: skip
    notice.approve("cmd-wu")
    notice.publish()
    return notice
