"""A published notice as a CAP 1.2 alert (OASIS Common Alerting Protocol), pure.

One message per publication: the first is an Alert, each later publication an Update, a withdrawal a
Cancel; ``references`` lists the earlier messages as "sender,identifier,sent". Two ``info`` blocks carry
the same notice in English (en-US) and Chinese (zh-CN); ``area`` names the incident's districts.
Element order follows the schema, which is strict about it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from events.publishing.notice_view import NoticeView, cap_time
from events.publishing.xml_text import xml_text

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_SENDER = "notices@levee.invalid"
WITHDRAWN = {"en-US": "This notice has been withdrawn.", "zh-CN": "本通告已撤回。"}


def render_cap(
    view: NoticeView, *, sender: str = DEFAULT_SENDER, sender_name: str = "Levee", web: str | None = None
) -> str:
    alert = ET.Element("alert", xmlns=CAP_NS)
    _text(alert, "identifier", view.identifier)
    _text(alert, "sender", sender)
    _text(alert, "sent", cap_time(view.sent))
    _text(alert, "status", "Actual")
    _text(alert, "msgType", view.msg_type)
    _text(alert, "scope", "Public")
    if view.references:
        _text(
            alert,
            "references",
            " ".join(f"{sender},{r.identifier},{cap_time(r.sent)}" for r in view.references),
        )
    if view.incident_id is not None:
        _text(alert, "incidents", f"levee-incident-{view.incident_id}")
    for language, title, body, names in (
        ("en-US", view.title_en, view.body_en, [a.desc_en for a in view.areas]),
        ("zh-CN", view.title_zh, view.body_zh, [a.desc_zh for a in view.areas]),
    ):
        _info(alert, view, language, title, body, names, sender_name, web)
    ET.indent(alert)
    return ET.tostring(alert, encoding="unicode", xml_declaration=True)


def _info(
    alert: ET.Element,
    view: NoticeView,
    language: str,
    title: str,
    body: str,
    area_names: list[str],
    sender_name: str,
    web: str | None,
) -> None:
    info = ET.SubElement(alert, "info")
    _text(info, "language", language)
    _text(info, "category", view.category)
    _text(info, "event", view.event_en if language == "en-US" else view.event_zh)
    scale = view.scale
    _text(info, "urgency", "Past" if view.msg_type == "Cancel" else scale.urgency)
    _text(info, "severity", "Minor" if view.msg_type == "Cancel" else scale.severity)
    _text(info, "certainty", scale.certainty)
    if view.expires is not None:
        _text(info, "expires", cap_time(view.expires))
    _text(info, "senderName", sender_name)
    _text(info, "headline", title)
    _text(info, "description", WITHDRAWN[language] if view.msg_type == "Cancel" else body)
    if web:
        _text(info, "web", web)
    for name, area in zip(area_names, view.areas, strict=True):
        element = ET.SubElement(info, "area")
        _text(element, "areaDesc", name)
        _text(element, "polygon", area.polygon)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = xml_text(value)
    return element
