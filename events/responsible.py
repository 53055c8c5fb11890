"""The named person responsible (责任人) for a major complaint or an incident: how the name is checked.

A major complaint goes up at once with one named person responsible (DOMAIN.md); an incident gets one too.
The name is a staff member's as people write it, so it is normalised the way the API normalises text (NFC,
trimmed) and inner runs of spaces are made one: "Li  Wei" and "Li Wei" are one person on the board.
"""

from __future__ import annotations

import re
import unicodedata

from events.errors import DomainError, require, require_text

MAX_PERSON_LENGTH = 100
_SPACES = re.compile(r"\s+")


def person_name(person: str) -> str:
    """The name as recorded, or DomainError (``person_required``, ``person_too_long``, ``person_invalid``)."""
    require(isinstance(person, str), "person_required", "Name the person responsible.", field="person")
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", person)).strip()
    require(name != "", "person_required", "Name the person responsible.", field="person")
    require(
        len(name) <= MAX_PERSON_LENGTH,
        "person_too_long",
        f"A name is at most {MAX_PERSON_LENGTH} characters.",
        field="person",
    )
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise DomainError("person_invalid", "A name has no control characters.", field="person")
    return name


def same_person(a: str | None, b: str) -> bool:
    """Names compared without regard to case: "li wei" is already "Li Wei"."""
    return a is not None and a.casefold() == b.casefold()


def check_reassignment(current: str | None, person: str, by: str) -> None:
    """Refuses naming again whoever is already responsible; anyone else replaces them (the event says whom)."""
    require(
        not same_person(current, person),
        "already_responsible",
        f"{current} is already the person responsible.",
    )
    require_text(by, "by")
