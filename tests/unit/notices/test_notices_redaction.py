"""The redaction guard: what it finds, what it must not mistake for personal data, and what it says."""

from __future__ import annotations

import pytest

from events.errors import DomainError
from events.publishing.redaction import check_publishable, find_personal_data, mask, valid_resident_id

VALID_ID = "11010519491231002X"  # the standard's own example: checksum X
VALID_ID_DIGIT = "440524198001010013"


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("Call 13812345678 for help", "mobile", "138****5678"),
        ("手机：139 1234 5678。", "mobile", "139******5678"),
        ("call 186-1234-5678 now", "mobile", "186******5678"),
        ("Tel 010-12345678", "landline", "010*****5678"),
        ("电话(0755) 8888 8888", "landline", "(07*********8888"),
        ("+852 2345 6789", "international_phone", "+85*******6789"),
        ("reach +1 (415) 555-0100 today", "international_phone", "+1 **********0100"),
        ("+86 138 1234 5678", "international_phone", "+86**********5678"),
        (f"身份证号{VALID_ID}。", "resident_id", "110***********002X"),
        (f"ID {VALID_ID.lower()}", "resident_id", "110***********002x"),
        (f"ID {VALID_ID_DIGIT}", "resident_id", "440***********0013"),
        ("write to li.ming+flood@example.org.", "email", "li." + "*" * 18 + ".org"),
    ],
)
def test_finds_personal_data_and_shows_it_masked(text: str, kind: str, masked: str) -> None:
    (finding,) = find_personal_data(text)
    assert finding.kind == kind
    assert finding.masked == masked
    assert "*" in finding.masked
    assert mask(text)[finding.start : finding.end] == "*" * (finding.end - finding.start)


@pytest.mark.parametrize(
    "text",
    [
        "Call the 12345 hotline, or 110, 119, 120 in an emergency.",
        "Order 2025090112345678 was shipped.",  # 16 digits: no mobile inside an order number
        "工单号 LV-7K3QX9，批次 20250901-000123。",
        "From 2025-09-01 08:00 to 2025-09-02 17:30.",
        "2025年9月1日 08:00起停水。",
        "1,234,567 people; 12.5 km; 3000 households",
        "110105194912310021 is not an ID: wrong check digit",
        "110105194913310027 is not an ID: no 13th month",
        "Serial 123456789012345678901 is too long to be an ID",
        "Flood level 13.8 m at 14:05; gauge 0.75.",
        "Room 201-203, Block 5",
        "email@ alone is no address, nor is @example.org",
    ],
)
def test_tricky_negatives_are_not_personal_data(text: str) -> None:
    assert find_personal_data(text) == []
    assert mask(text) == text


def test_names_and_addresses_of_linked_complainants_are_found_case_blind() -> None:
    known = ["王伟", "Chan Tai Man", "海港路12号", " ", "x"]
    text = "王伟 of 海港路12号 says CHAN TAI MAN called; x-ray unit fine."
    found = find_personal_data(text, known)
    assert [(f.kind, f.masked) for f in found] == [
        ("known_person", "王*"),
        ("known_person", "海****号"),
        ("known_person", "C**********N"),
    ]
    assert mask(text, known) == "** of ****** says ************ called; x-ray unit fine."


def test_overlapping_matches_keep_the_longer() -> None:
    (finding,) = find_personal_data("+86 13812345678")
    assert finding.kind == "international_phone"


def test_check_publishable_refuses_and_names_what_it_found_without_leaking_it() -> None:
    with pytest.raises(DomainError) as refused:
        check_publishable({"body_en": "Contact 13812345678", "body_zh": "无"}, [])
    assert refused.value.code == "contains_personal_data"
    assert refused.value.field == "body_en"
    assert "mobile 138****5678" in refused.value.message
    assert "13812345678" not in refused.value.message
    check_publishable({"body_en": "Call 12345."}, ["王伟"])  # nothing found: no error


@pytest.mark.parametrize(
    ("value", "valid"),
    [(VALID_ID, True), (VALID_ID_DIGIT, True), ("11010519491231002Y", False), ("1101051949123100", False)],
)
def test_resident_id_checksum(value: str, valid: bool) -> None:
    assert valid_resident_id(value) is valid
