"""Checking an intake body: pure functions from parsed JSON to an `IntakeRequest` or a list of FieldErrors.

Every value is checked and every wrong one named at once, so a hotline operator fixes a form in one go.
Text is NFC-normalised first: "é" typed two ways must be one string for duplicate detection and search.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from events.reference import Reference
from services.api.problems import FieldError

CHANNELS = ("hotline", "web", "app", "social_media", "walk_in")
PUBLIC_CHANNELS = ("web", "app")  # a citizen cannot file as the hotline; operators record those
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 500
NAME_MAX = 200
EMAIL_MAX = 254
PEOPLE_MAX = 1_000_000
CLOCK_SKEW = timedelta(minutes=5)
CALL_AGE_MAX = timedelta(hours=24)  # a call's start: the same day, not a form's empty default (0001-01-01)
TOP_FIELDS = frozenset(
    {"channel", "description", "category", "location", "people_affected", "vulnerable", "reporter",
     "media_exposure", "call_started_at"}
)  # fmt: skip
LOCATION_FIELDS = frozenset({"lat", "lon", "district", "address"})
REPORTER_FIELDS = frozenset({"name", "phone", "email"})
OPERATOR_ONLY = ("media_exposure", "call_started_at")
# An optional +, an optional opening bracket ("(852) 9123 4567", "(+852) ..."), then digits and the usual marks.
_PHONE = re.compile(r"^\+?\(?\+?[0-9][0-9 ()\-.]{4,30}$")
_BRACKETED_COUNTRY = re.compile(r"^\(\+?([1-9]\d{0,2})\)\s*")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Line breaks and tabs belong in free text; every other control character (Unicode category Cc, which
# its stability policy fixes at U+0000-001F and U+007F-009F) is refused. One regex pass, not a lookup per
# character: a 4,000-character description cost 0.5 ms.
# Lone surrogates ("\ud800" is valid JSON) cannot be stored as UTF-8: refused with them, in the same pass.
_REFUSED_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_CONTROLS = re.compile("[\n\r\t]")
# Bidi embeddings, overrides and isolates (LRE..RLO, LRI..PDI): a page shows each field beside others, and an
# unclosed override in one reverses the next ("a title reversed its status", found by a review). Removed, not
# refused: a caller's complaint is never turned away for them, and the words stay as typed. The marks LRM/RLM
# (U+200E/200F) affect nothing beyond their neighbours and stay.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Something a person can see: neither white space nor invisible (format characters such as zero-width spaces
# and joiners, the BOM and bidi marks; the Hangul and Braille fillers). A text of none is empty to a reader,
# though `str.strip()` keeps it.
_VISIBLE = re.compile("[^\\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                      "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0]")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reporter:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    channel: str
    description: str
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    address: str | None = None
    people_affected: int = 1
    vulnerable: tuple[str, ...] = ()
    reporter: Reporter | None = None
    media_exposure: bool | None = None
    call_started_at: datetime | None = None
    operator_fields: tuple[str, ...] = field(default=())  # which operator-only fields were sent

    def fingerprint(self, settles: str | None = None) -> str:
        """A hash of the request as understood (after normalisation): equal bodies, equal fingerprints.
        `settles`: what else the same request settled (an operator's call: a transfer, a first-contact answer).

        The text is what `dataclasses.asdict` would give (rows stored before stay comparable), built by hand:
        asdict copies every value deeply and cost 25 µs of intake's time."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        reporter = self.reporter
        data["reporter"] = (
            None if reporter is None else {name: getattr(reporter, name) for name in _REPORTER_FIELDS}
        )
        if settles is not None:
            data["settles"] = settles
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def has_personal_data(self) -> bool:
        return self.reporter is not None or self.address is not None


_FIELDS = tuple(f.name for f in fields(IntakeRequest))
_REPORTER_FIELDS = tuple(f.name for f in fields(Reporter))


def parse_intake(body: Any, ref: Reference) -> tuple[IntakeRequest | None, list[FieldError]]:
    """The request, or None and every error found."""
    errors: list[FieldError] = []
    if not isinstance(body, dict):
        return None, [FieldError("", "the body must be a JSON object")]
    errors += unknown_fields(body, TOP_FIELDS, "")
    channel = _choice(body, "channel", CHANNELS, errors, required=True)
    description = text(body, "description", DESCRIPTION_MAX, errors, required=True, multiline=True)
    category = _code(body, "category", {c.code for c in ref.categories}, errors)
    location = _location(body.get("location"), ref, errors)
    people = _people(body.get("people_affected", 1), errors)
    vulnerable = _vulnerable(body.get("vulnerable", []), ref, errors)
    reporter = _reporter(body.get("reporter"), errors)
    media = body.get("media_exposure")
    if media is not None and not isinstance(media, bool):
        errors.append(FieldError("media_exposure", "must be true or false"))
    started = _timestamp(body.get("call_started_at"), "call_started_at", errors)
    if errors:
        return None, errors
    assert channel is not None and description is not None
    return IntakeRequest(
        channel=channel, description=description, category=category, people_affected=people,
        vulnerable=vulnerable, reporter=reporter, media_exposure=media, call_started_at=started,
        operator_fields=tuple(f for f in OPERATOR_ONLY if body.get(f) is not None), **location,
    ), []  # fmt: skip


def unknown_fields(body: dict[str, Any], known: frozenset[str], prefix: str) -> list[FieldError]:
    if known.issuperset(body):  # the usual case, without building a set of the body's names
        return []
    return [
        FieldError(prefix + name, "unknown field; accepted: " + ", ".join(sorted(known)))
        for name in sorted(set(body) - known)
    ]


def clean_text(value: str) -> str | None:
    """NFC-normalised and trimmed text ("" when nothing visible is left), or None when it holds a control
    character or a lone surrogate."""
    value = unicodedata.normalize("NFC", value)
    if _BIDI_CONTROLS.search(value):
        value = _BIDI_CONTROLS.sub("", value)
    value = value.strip()
    if _REFUSED_CONTROLS.search(value):
        return None
    return value if _VISIBLE.search(value) else ""


def text(
    body: dict[str, Any], name: str, limit: int, errors: list[FieldError], *,
    required: bool = False, multiline: bool = False, path: str | None = None,
) -> str | None:  # fmt: skip
    where = path or name
    value = body.get(name)
    if value is None:
        if required:
            errors.append(FieldError(where, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(where, "must be a string"))
        return None
    cleaned = clean_text(value)
    if cleaned is None or (not multiline and _LINE_CONTROLS.search(cleaned)):
        errors.append(FieldError(where, "must not contain control characters"))
        return None
    if not cleaned:
        errors.append(FieldError(where, "must not be empty"))
        return None
    if len(cleaned) > limit:
        errors.append(FieldError(where, f"is {len(cleaned)} characters; at most {limit}"))
        return None
    return cleaned


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], errors: list[FieldError], *, required: bool
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "is required; one of " + ", ".join(allowed)))
        return None
    if value not in allowed:
        errors.append(FieldError(name, "must be one of " + ", ".join(allowed)))
        return None
    return str(value)


def _code(body: dict[str, Any], name: str, known: set[str], errors: list[FieldError]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in known:
        errors.append(FieldError(name, "unknown code; one of " + ", ".join(sorted(known))))
        return None
    return value


def coordinates(lat: Any, lon: Any, ref: Reference, errors: list[FieldError], names: tuple[str, str]) -> bool:
    """True when (lat, lon) are numbers inside the served area; otherwise each wrong one is named."""
    ok = True
    for value, name, bound in ((lat, names[0], 90), (lon, names[1], 180)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            errors.append(FieldError(name, "must be a number (WGS84 degrees)"))
            ok = False
        elif not -bound <= value <= bound:
            errors.append(FieldError(name, f"must be between -{bound} and {bound}"))
            ok = False
    if ok and not ref.in_served_area(float(lat), float(lon)):
        box = ref.area.bbox
        errors.append(
            FieldError(
                names[0],
                f"({lat}, {lon}) is outside the served area {ref.area.name_en} ({ref.area.name_zh}): "
                f"latitude {box.south}..{box.north}, longitude {box.west}..{box.east}",
            )
        )
        ok = False
    return ok


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer literal of 400 digits: no float holds it
        return False


def _location(raw: Any, ref: Reference, errors: list[FieldError]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(FieldError("location", "must be an object {lat, lon, district, address}"))
        return {}
    errors += unknown_fields(raw, LOCATION_FIELDS, "location.")
    lat, lon = raw.get("lat"), raw.get("lon")
    found: dict[str, Any] = {}
    if (lat is None) != (lon is None):
        errors.append(FieldError("location.lon" if lon is None else "location.lat", "give both lat and lon"))
    elif lat is not None and coordinates(lat, lon, ref, errors, ("location.lat", "location.lon")):
        assert lon is not None  # both or neither, checked just above
        found.update(lat=float(lat), lon=float(lon))
    district = raw.get("district")
    if district is not None:
        codes = {d.code for d in ref.districts}
        if not isinstance(district, str) or district not in codes:
            errors.append(
                FieldError("location.district", "unknown district; one of " + ", ".join(sorted(codes)))
            )
        else:
            found["district"] = district
    address = text(raw, "address", ADDRESS_MAX, errors, path="location.address")
    if address is not None:
        found["address"] = address
    return found


def _people(value: Any, errors: list[FieldError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PEOPLE_MAX:
        errors.append(FieldError("people_affected", f"must be a whole number from 1 to {PEOPLE_MAX:,}"))
        return 1
    return value


def _vulnerable(value: Any, ref: Reference, errors: list[FieldError]) -> tuple[str, ...]:
    kinds = ", ".join(ref.vulnerable_kinds)
    if not isinstance(value, list):
        errors.append(FieldError("vulnerable", f"must be a list of: {kinds}"))
        return ()
    if len(value) > len(ref.vulnerable_kinds):
        errors.append(FieldError("vulnerable", f"has {len(value)} items; each kind at most once: {kinds}"))
        return ()
    for index, kind in enumerate(value):
        if kind not in ref.vulnerable_kinds:
            errors.append(FieldError(f"vulnerable[{index}]", f"unknown kind; one of {kinds}"))
    if len(set(map(str, value))) != len(value):
        errors.append(FieldError("vulnerable", "lists a kind twice"))
    return tuple(str(v) for v in value)


def _reporter(raw: Any, errors: list[FieldError]) -> Reporter | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.append(FieldError("reporter", "must be an object {name, phone, email}"))
        return None
    errors += unknown_fields(raw, REPORTER_FIELDS, "reporter.")
    name = text(raw, "name", NAME_MAX, errors, path="reporter.name")
    phone = text(raw, "phone", 40, errors, path="reporter.phone")
    # A Chinese IME types full-width digits (９１２３　４５６７): the same number, read in ASCII. A country code in
    # brackets is written the international way, "(852) 6987 4321" as "+852 6987 4321", so that the reporter's own
    # number is found in their description in any form it is dialled (public_description; a review found the
    # bracketed form left "69874321" in clear). An area code in brackets starts with 0 and stays as it is.
    if phone is not None:
        phone = _BRACKETED_COUNTRY.sub(r"+\1 ", unicodedata.normalize("NFKC", phone), count=1)
    email = text(raw, "email", EMAIL_MAX, errors, path="reporter.email")
    # The messages never repeat the value: it is personal data and problem bodies get logged by proxies.
    if phone is not None and not _PHONE.match(phone):
        problem = "not a phone number (digits, optional + and brackets, spaces, dashes)"
        errors.append(FieldError("reporter.phone", problem))
    if email is not None and not _EMAIL.match(email):
        errors.append(FieldError("reporter.email", "not an email address"))
    if name is None and phone is None and email is None:
        return None
    return Reporter(name=name, phone=phone, email=email)


def _timestamp(value: Any, name: str, errors: list[FieldError]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors.append(FieldError(name, "must be an ISO 8601 date-time with a UTC offset"))
        return None
    now = datetime.now(UTC)
    if parsed > now + CLOCK_SKEW:
        errors.append(FieldError(name, "is in the future"))
        return None
    if parsed < now - CALL_AGE_MAX:  # also what PostgreSQL could not store (year 1 at +14:00)
        errors.append(FieldError(name, f"is more than {CALL_AGE_MAX.total_seconds() / 3600:g} hours ago"))
        return None
    return parsed
