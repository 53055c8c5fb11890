"""The operator's reference data, and the pure decisions the call card makes from it.

`phrases.toml` (the seven steps' phrases, the danger-to-life lexicon, follow-up rules) and `answers.toml`
(standard answers per category) sit beside this module; a deployment replaces them. Loaded on first use,
never at import time. Everything here is pure: the card, intake and Open311 ask the same questions.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from events.complaint_rules import MAX_FOLLOW_UP_ATTEMPTS
from events.reference import Reference
from services.runtime.chinese import simplified

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
    terms: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Guide:
    steps: tuple[dict[str, Any], ...]
    dangers: tuple[Danger, ...]
    negation: re.Pattern[str]
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
        Danger(d["code"], d["service"], d["label_en"], d["label_zh"],
               tuple(re.compile(t, re.IGNORECASE) for t in d["terms"]))
        for d in raw["danger"]
    )  # fmt: skip
    for danger in dangers:
        if danger.service not in SERVICE_NAMES:
            raise ValueError(f"phrases.toml: danger {danger.code!r} names unknown service {danger.service!r}")
    attempts = int(raw.get("follow_up", {}).get("max_attempts", MAX_FOLLOW_UP_ATTEMPTS))
    return Guide(
        steps=tuple(raw["steps"]),
        dangers=dangers,
        negation=re.compile(raw["negation"]["before"], re.IGNORECASE),
        answers=tuple(tomllib.loads(answers.read_text(encoding="utf-8"))["answers"]),
        # The domain refuses a fourth attempt whatever a deployment writes here.
        max_follow_up_attempts=max(1, min(attempts, MAX_FOLLOW_UP_ATTEMPTS)),
    )


@cache
def guide() -> Guide:
    return load_guide()


@dataclass(frozen=True)
class _Scanner:
    """The lexicon as two kinds of pattern: where does any term start, and which dangers start there."""

    anywhere: re.Pattern[str]  # zero-width (a lookahead): a term inside another's match is still seen
    per_danger: tuple[re.Pattern[str], ...]  # the dangers' terms, one alternation each, in lexicon order


_SCANNERS: dict[int, tuple[Guide, _Scanner]] = {}


def _scanner(g: Guide) -> _Scanner:
    known = _SCANNERS.get(id(g))
    if known is None or known[0] is not g:
        # Case-insensitive whatever the terms say, as the lexicon promises.
        per_danger = ["|".join(f"(?:{p.pattern})" for p in danger.terms) or "(?!)" for danger in g.dangers]
        terms = [p.pattern for danger in g.dangers for p in danger.terms]
        anywhere = re.compile(f"(?={_by_first_letter(terms)})", re.IGNORECASE)
        scanner = _Scanner(anywhere, tuple(re.compile(p, re.IGNORECASE) for p in per_danger))
        known = _SCANNERS[id(g)] = (g, scanner)
    return known[1]


def _by_first_letter(terms: list[str]) -> str:
    """One alternation of the terms, those that start with a plain letter grouped under it and behind a
    class of those letters (`trapped|that` as `(?=[t])t(?:rapped|hat)`): the same matches, but at most
    positions of the text the regex engine tries one class instead of one term after another (a
    case-insensitive letter is slow to try: this pass was a quarter of intake's own time). A term that starts
    with a group of plain words (`(house|home|roof) is ...`) is spread into one term per word first: tried
    whole at every position, each such term cost more than the rest of the lexicon together."""
    grouped: dict[str, list[str]] = {}
    others: list[str] = []
    for term in (spread for given in terms for spread in _spread(given)):
        if _starts_with_plain_letter(term):
            grouped.setdefault(term[0].lower(), []).append(term[1:])
        else:
            others.append(f"(?:{term})")
    if grouped:
        letters = "".join(grouped)
        others.append(
            f"(?=[{letters}])(?:" + "|".join(f"{k}(?:{'|'.join(v)})" for k, v in grouped.items()) + ")"
        )
    return "|".join(others) or "(?!)"


_LEADING_WORDS = re.compile(r"\((?:\?:)?([^()\[\]\\]+)\)")


def _spread(term: str) -> list[str]:
    """`(a|b)rest` as `arest`, `brest` when each alternative starts with a letter and the group is not
    quantified; the term as it is otherwise."""
    words = _LEADING_WORDS.match(term)
    if words is None or term[words.end() : words.end() + 1] in ("?", "*", "+", "{"):
        return [term]
    alternatives = words[1].split("|")
    if not all(a[:1].isalpha() for a in alternatives):
        return [term]
    return [a + term[words.end() :] for a in alternatives]


def _starts_with_plain_letter(term: str) -> bool:
    """The term is a letter (of any script), not quantified, then the rest, with no `|` outside a group or a
    class (`a|b` does not start with `a`)."""
    first, second = term[:1], term[1:2]
    if not first.isalpha() or second in ("?", "*", "+", "{"):
        return False
    depth, at = 0, 0
    while at < len(term):
        char = term[at]
        if char == "\\":
            at += 2  # an escaped character, whatever it is
            continue
        if char == "[":  # a class: up to its closing bracket (one first, or escaped, is inside it)
            at += 2 if term[at + 1 : at + 2] in ("]", "^") else 1
            while at < len(term) and term[at] != "]":
                at += 2 if term[at] == "\\" else 1
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return False
        at += 1
    return True


def life_first(text: str, *, g: Guide | None = None) -> dict[str, Any] | None:
    """When the text tells of a danger to life happening now: which services to call first, and why.

    None otherwise. A term right after a negation ("no one is trapped", "没有人被困") does not count.
    """
    g = g or guide()
    scanner = _scanner(g)
    # The terms are simplified Chinese: a caller typing 電梯困人 or 煤氣洩漏 is read the same (full width too).
    text = simplified(unicodedata.normalize("NFKC", text))
    found: set[int] = set()
    # One pass over the text (most complaints mention no danger at all), then, only where a term starts,
    # the negation before it and which dangers' terms start there.
    for match in scanner.anywhere.finditer(text):
        start = match.start()
        if g.negation.search(text, 0, start):  # as on text[:start]: its `$` is where the term starts
            continue
        found.update(n for n, p in enumerate(scanner.per_danger) if p.match(text, start))
        if len(found) == len(g.dangers):
            break
    if not found:
        return None
    dangers = [d for n, d in enumerate(g.dangers) if n in found]
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
