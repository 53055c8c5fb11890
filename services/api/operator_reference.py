"""The operator's reference data, and the pure decisions the call card makes from it.

`phrases.toml` (the seven steps' phrases, the danger-to-life lexicon, follow-up rules) and `answers.toml`
(standard answers per category) sit beside this module; a deployment replaces them. Loaded on first use,
never at import time. Everything here is pure: the card, intake and Open311 ask the same questions.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from events.complaint_rules import MAX_FOLLOW_UP_ATTEMPTS
from events.reference import Reference
from services.triage.lexicon import Text
from services.triage.rules import Rules, configured_rules
from services.triage.scoring import find_danger

HERE = Path(__file__).parent
SERVICE_NAMES = {
    "110": ("police", "公安"),
    "119": ("fire and rescue", "消防救援"),
    "120": ("ambulance", "急救"),
}
MIN_FACTS_CHARS = 10  # shorter than this, a description names no concrete facts


@dataclass(frozen=True)
class Danger:
    code: str
    service: str
    label_en: str
    label_zh: str
    kinds: tuple[str, ...]  # triage's danger kinds it covers (rules.toml `[danger.<kind>]`)


@dataclass(frozen=True)
class Guide:
    steps: tuple[dict[str, Any], ...]
    dangers: tuple[Danger, ...]
    answers: tuple[dict[str, Any], ...]
    max_follow_up_attempts: int

    def answer(self, code: str) -> dict[str, Any] | None:
        return next((a for a in self.answers if a["code"] == code), None)

    def public(self) -> dict[str, Any]:
        """What the card shows: steps, answers, the dangers' labels and services (not the patterns)."""
        return {
            "steps": list(self.steps),
            "answers": list(self.answers),
            "dangers": [{"code": d.code, "service": d.service, "label_en": d.label_en, "label_zh": d.label_zh}
                        for d in self.dangers],
            "emergency_services": [{"service": s, "name_en": en, "name_zh": zh} for s, (en, zh) in SERVICE_NAMES.items()],
            "max_follow_up_attempts": self.max_follow_up_attempts,
        }  # fmt: skip


def load_guide(phrases: Path = HERE / "phrases.toml", answers: Path = HERE / "answers.toml") -> Guide:
    raw = tomllib.loads(phrases.read_text(encoding="utf-8"))
    dangers = tuple(
        Danger(d["code"], d["service"], d["label_en"], d["label_zh"], tuple(d["kinds"]))
        for d in raw["danger"]
    )
    for danger in dangers:
        if danger.service not in SERVICE_NAMES:
            raise ValueError(f"phrases.toml: danger {danger.code!r} names unknown service {danger.service!r}")
    attempts = int(raw.get("follow_up", {}).get("max_attempts", MAX_FOLLOW_UP_ATTEMPTS))
    return Guide(
        steps=tuple(raw["steps"]),
        dangers=dangers,
        answers=tuple(tomllib.loads(answers.read_text(encoding="utf-8"))["answers"]),
        # The domain refuses a fourth attempt whatever a deployment writes here.
        max_follow_up_attempts=max(1, min(attempts, MAX_FOLLOW_UP_ATTEMPTS)),
    )


@cache
def guide() -> Guide:
    return load_guide()


def life_first(text: str, *, g: Guide | None = None, rules: Rules | None = None) -> dict[str, Any] | None:
    """When the text tells of a danger to life happening now: which services to call first, and why.

    None otherwise. Danger is what triage reads as real and present with its rules (this process's, see
    `configure_rules`): not negated, asked about, over, or said of a pet or a thing.
    """
    g = g or guide()
    kinds = {kind for kind, _ in find_danger(Text.of(text), rules or configured_rules())}
    if not kinds:
        return None
    dangers = [d for d in g.dangers if kinds.intersection(d.kinds)]
    if not dangers:
        return None
    services = sorted({d.service for d in dangers})
    joined = "/".join(services)
    return {
        "services": services,
        "dangers": [{"code": d.code, "service": d.service, "label_en": d.label_en, "label_zh": d.label_zh}
                    for d in dangers],
        "message_en": f"Danger to life: call {joined} first. Your report is stored and sent to command.",
        "message_zh": f"有生命危险：请先拨打 {joined}。您的诉求已记录并上报指挥部。",
    }  # fmt: skip


def acceptance_preview(
    ref: Reference,
    *,
    description: str,
    category: str | None,
    lat: float | None,
    lon: float | None,
    district: str | None,
    open_same_category: int = 0,
) -> list[dict[str, str]]:
    """What the acceptance rules (受理条件) will say, before the complaint is submitted."""
    issues: list[dict[str, str]] = []
    if len(description.strip()) < MIN_FACTS_CHARS:
        issues.append(
            _issue(
                "facts_missing",
                "Say what happened, where and since when.",
                "请说明发生了什么、在哪里、从何时开始。",
            )
        )
    if category is None:
        issues.append(
            _issue("no_category", "Choose the category the complaint is about.", "请选择诉求类别。")
        )
    if lat is None and district is None:
        issues.append(_issue("no_location", "Give a district or a location.", "请提供所在区或位置。"))
    if lat is not None and lon is not None and not ref.area.bbox.contains(lat, lon):
        issues.append(_issue("outside_area", f"The location is outside {ref.area.name_en}.",
                             f"位置不在{ref.area.name_zh}服务范围内。"))  # fmt: skip
    if district is not None and district not in {d.code for d in ref.districts}:
        issues.append(_issue("outside_area", "That district is not served here.", "该区不在服务范围内。"))
    if open_same_category:
        issues.append(_issue("likely_duplicate",
                             "This caller has an open complaint in this category: add the call to it.",
                             "该来电人已有同类未办结诉求，请追加到原工单。"))  # fmt: skip
    return issues


def _issue(code: str, en: str, zh: str) -> dict[str, str]:
    return {"code": code, "message_en": en, "message_zh": zh}
