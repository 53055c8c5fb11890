"""Published notices as an Atom feed (RFC 4287), pure.

An entry's id is the notice's, permanent across its updates (RFC 4287, 4.2.6); ``updated`` moves with each
publication. Each entry links to the notice page (alternate) and to its CAP message (related,
application/cap+xml). A withdrawn notice stays in the feed, saying it was withdrawn, with none of its text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.publishing.notice_view import NoticeView, atom_time
from events.publishing.xml_text import xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedMeta:
    feed_id: str  # a permanent IRI, e.g. "urn:uuid:..." or "https://city.example/notices"
    title: str
    self_url: str
    notice_url: str  # with "{id}" for the notice id, e.g. "https://city.example/notices/{id}"
    cap_url: str  # with "{id}", e.g. "https://city.example/notices/{id}.cap"
    author: str = "Levee"
    updated_when_empty: datetime | None = None


def render_atom(notices: Sequence[NoticeView], meta: FeedMeta) -> str:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(_q("feed"))
    _text(feed, "id", meta.feed_id)
    _text(feed, "title", meta.title)
    newest = max((n.sent for n in notices), default=meta.updated_when_empty)
    if newest is None:
        raise ValueError("an empty feed needs FeedMeta.updated_when_empty: atom:updated is required")
    _text(feed, "updated", atom_time(newest))
    ET.SubElement(feed, _q("link"), rel="self", href=meta.self_url, type="application/atom+xml")
    author = ET.SubElement(feed, _q("author"))
    _text(author, "name", meta.author)
    for notice in sorted(notices, key=lambda n: n.sent, reverse=True):
        _entry(feed, notice, meta)
    ET.indent(feed)
    return ET.tostring(feed, encoding="unicode", xml_declaration=True)


def _entry(feed: ET.Element, notice: NoticeView, meta: FeedMeta) -> None:
    entry = ET.SubElement(feed, _q("entry"))
    _text(entry, "id", f"urn:uuid:{notice.notice_id}")
    withdrawn = notice.msg_type == "Cancel"
    prefix = "已撤回 Withdrawn: " if withdrawn else ""
    # Chinese first, as on every public page: most readers show the title and summary alone.
    _text(entry, "title", f"{prefix}{notice.title_zh} / {notice.title_en}")
    _text(entry, "published", atom_time(notice.first_published))
    _text(entry, "updated", atom_time(notice.sent))
    href = meta.notice_url.format(id=notice.notice_id)
    ET.SubElement(entry, _q("link"), rel="alternate", href=href, type="text/html")
    ET.SubElement(entry, _q("link"), rel="related", href=meta.cap_url.format(id=notice.notice_id),
                  type="application/cap+xml")  # fmt: skip
    ET.SubElement(entry, _q("category"), term="withdrawn" if withdrawn else notice.status)  # not "identified"
    if withdrawn:
        _text(entry, "summary", "本通告已撤回。 This notice has been withdrawn.")
    else:
        _text(entry, "summary", notice.body_zh)
        content = _text(entry, "content", f"{notice.body_zh}\n\n{notice.body_en}")
        content.set("type", "text")


def _q(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    element.text = xml_text(value)
    return element
