"""The redaction guard, pure: personal data a public notice must never carry.

Finds phone numbers (mainland mobiles, landlines written with an area code, international numbers written
with +), resident ID numbers (18 characters whose checksum and birth date hold), email addresses, and the
names and addresses of the incident's complainants. A finding says what kind it is and where, and shows
the match masked: the guard's own output must not leak what it found.
Short service numbers (12345, 110, 120) and order numbers, dates and times are not phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from events.errors import DomainError

Kind = Literal["mobile", "landline", "international_phone", "resident_id", "email", "known_person"]

_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")),
    ("resident_id", re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")),
    # +CC then 6-14 more digits in groups: "+852 2345 6789", "+1 (415) 555-0100", "+86 138 1234 5678".
    ("international_phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\d)")),
    ("mobile", re.compile(r"(?<![\d+])(?:0?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")),
    # Area code 0xx(x), set off by a hyphen, a space or brackets: "010-12345678", "(0755) 8888 8888".
    ("landline", re.compile(r"(?<![\d-])(?:\(0\d{2,3}\)\s?|0\d{2,3}[\s-])\d{3,4}[\s-]?\d{4}(?![\d-])")),
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MIN_KNOWN = 2  # a single character is no name: it would match everywhere


@dataclass(frozen=True)
class Finding:
    kind: Kind
    start: int
    end: int
    masked: str  # the match with most characters starred, safe to show and log


def find_personal_data(text: str, known_names_addresses: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in ``text``, in order; overlapping matches keep the longer one."""
    candidates: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if _plausible(kind, match.group()):
                candidates.append(Finding(kind, match.start(), match.end(), _mask_value(match.group(), kind)))
    for known in known_names_addresses:
        needle = known.strip()
        if len(needle) < _MIN_KNOWN:
            continue
        for match in re.finditer(re.escape(needle), text, flags=re.IGNORECASE):
            found = match.group()
            candidates.append(
                Finding("known_person", match.start(), match.end(), _mask_value(found, "known_person"))
            )
    return _without_overlaps(candidates)


def mask(text: str, known_names_addresses: Iterable[str] = (), *, fill: str = "*") -> str:
    """``text`` with every finding replaced by ``fill`` characters of the same length."""
    out, last = [], 0
    for finding in find_personal_data(text, known_names_addresses):
        out.append(text[last : finding.start])
        out.append(fill * (finding.end - finding.start))
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def check_publishable(texts: Mapping[str, str], known_names_addresses: Iterable[str] = ()) -> None:
    """Refuse (DomainError ``contains_personal_data``) text a notice must not publish; say what and where."""
    known = list(known_names_addresses)
    found = {field: find_personal_data(value, known) for field, value in texts.items()}
    found = {field: findings for field, findings in found.items() if findings}
    if found:
        detail = "; ".join(
            f"{field}: " + ", ".join(f"{f.kind} {f.masked} at {f.start}-{f.end}" for f in findings)
            for field, findings in found.items()
        )
        raise DomainError(
            "contains_personal_data", f"The notice carries personal data: {detail}.", field=next(iter(found))
        )


def valid_resident_id(value: str) -> bool:
    """GB 11643-1999: 17 digits, a check character (ISO 7064 MOD 11-2), and a real birth date."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17].upper():
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def _plausible(kind: Kind, value: str) -> bool:
    if kind == "resident_id":
        return valid_resident_id(value)
    if kind == "international_phone":
        return 8 <= sum(c.isdigit() for c in value) <= 15
    return True


def _mask_value(value: str, kind: Kind) -> str:
    """Keep a little of the ends so a person can find the match (138****5678), less of a name (王*)."""
    n = len(value)
    if n <= 2:
        return value[0] + "*" * (n - 1)
    if kind == "known_person" or n < 10:
        return value[0] + "*" * (n - 2) + value[-1]
    return value[:3] + "*" * (n - 7) + value[-4:]


def _without_overlaps(candidates: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (f.start, -(f.end - f.start))):
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept
