"""The redaction guard still finds an erased complainant's name, address and phone, from keyed fingerprints only."""

from __future__ import annotations

import pytest

from events.errors import DomainError
from events.publishing.erased_fingerprints import ErasedFingerprints, KnownPersonalData
from events.publishing.redaction import check_publishable, find_personal_data, fingerprint

SECRET = b"s" * 32
REPORTER = ["Quorinda Vexhallow", "77 Marrowfield Lane, Flat 2", "+852 6987 4321", "qv@example.org"]
REPORTER_ZH = ["张力", "南山区海港路88号3栋502室"]  # a name that is also an everyday word ("张力", tension)


def erased(values: list[str], secret: bytes = SECRET) -> KnownPersonalData:
    """What `known_personal_data` hands the guard once the complaint's key is gone: no clear value at all."""
    return KnownPersonalData([], ErasedFingerprints(secret, frozenset(fingerprint(values, secret))))


def found(text: str, known: KnownPersonalData) -> list[str]:
    return [text[f.start : f.end] for f in find_personal_data(text, known) if f.kind == "erased_complainant"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Thanks to Quorinda Vexhallow for the report.", "Quorinda Vexhallow"),
        ("thanks to QUORINDA VEXHALLOW", "QUORINDA VEXHALLOW"),
        ("Thanks to Vexhallow, Quorinda.", "Vexhallow, Quorinda"),  # the words in any order
        ("Thanks to Quorinda  -  Vexhallow", "Quorinda  -  Vexhallow"),
        (
            "Thanks to Ｑｕｏｒｉｎｄａ Ｖｅｘｈａｌｌｏｗ",
            "Ｑｕｏｒｉｎｄａ Ｖｅｘｈａｌｌｏｗ",
        ),  # full-width
        ("Pumps at 77 Marrowfield Lane now", "77 Marrowfield Lane"),
        ("Pumps at 77 marrowfield ln.", "77 marrowfield ln"),  # the street type abbreviated
        (
            "Ask for 6987 4321",
            "6987 4321",
        ),  # no word says it is a phone, no +852: only the fingerprint knows it
        ("Ask for 69874321", "69874321"),
        ("Ask for 6987-4321 today", "6987-4321"),
        ("Call 852 6987 4321", "852 6987 4321"),
        ("Ask for ６９８７ ４３２１", "６９８７ ４３２１"),  # full-width digits
        ("Mail qv @ example.org", "qv @ example.org"),  # spaced out of an email's shape
        ("张力先生反映", "张力"),  # beside a title, the everyday word is a name
        ("海港路88号积水", "海港路88号"),  # the address's core, street and number
    ],
)
def test_an_erased_complainants_value_is_found_however_it_is_written(text: str, match: str) -> None:
    assert found(text, erased(REPORTER + REPORTER_ZH)) == [match]


@pytest.mark.parametrize(
    "text",
    [
        "Thanks to Quorinda Smith",  # another person of the same first name
        "Thanks to Quentin Vexhall",
        "Thanks to Quorindas Vexhallowe",  # the name inside longer words
        "The Vexhallowfield pumps",
        "Pumps at 78 Marrowfield Lane",  # the next house
        "Pumps on Marrowfield Lane",  # a street is no one's address
        "Call 6987 43210",  # a longer number
        "Order 169874321",
        "张力很大，注意安全",  # the everyday word in running text
        "海港路水浸",
    ],
)
def test_near_misses_are_not_an_erased_complainant(text: str) -> None:
    assert found(text, erased(REPORTER + REPORTER_ZH)) == []


def test_a_written_international_number_is_refused_by_its_shape_or_its_fingerprint() -> None:
    with pytest.raises(DomainError) as refused:
        check_publishable({"body_en": "Call +852 6987 4321"}, erased(REPORTER))
    assert refused.value.code == "contains_personal_data"


def test_fingerprints_hold_no_value_and_need_their_secret() -> None:
    entries = fingerprint(REPORTER + REPORTER_ZH, SECRET)
    stored = " ".join(entries).casefold()
    for part in ("quorinda", "vexhallow", "marrowfield", "6987", "4321", "qv@", "张力", "海港"):
        assert part not in stored
    other = KnownPersonalData([], ErasedFingerprints(b"t" * 32, frozenset(entries)))
    assert found("Thanks to Quorinda Vexhallow, 6987 4321", other) == []


def test_refused_with_the_erased_kind_and_nothing_of_the_value() -> None:
    with pytest.raises(DomainError) as refused:
        check_publishable(
            {"title_en": "Flood update", "body_en": "Thanks to Quorinda Vexhallow."}, erased(REPORTER)
        )
    assert (refused.value.code, refused.value.field) == ("contains_personal_data", "body_en")
    # Starred whole: not even the first and last letters a living complainant's name keeps.
    assert refused.value.message == (
        "The notice carries personal data: body_en: erased_complainant ****************** at 10-28."
    )


def test_clear_values_and_fingerprints_are_checked_together() -> None:
    known = KnownPersonalData(["Chan Tai-man"], erased(REPORTER).erased)
    texts = [f"{f.kind}:{f.masked}" for f in find_personal_data("Chan Tai-man and Quorinda Vexhallow", known)]
    assert texts == ["known_person:C**********n", "erased_complainant:******************"]
    check_publishable({"body_en": "Pumps are working on Marrowfield Lane."}, known)  # naming nobody
