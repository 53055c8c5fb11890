"""The redaction guard reads text as a reader sees it, and a reporter's name as the person is called (found by a
security review against a running system: both let a complainant's phone and name onto the public status page).

Invisible characters (soft hyphens, direction marks, joiners, variation selectors, any format character) split
a phone, an email, an ID number or a name past the guard, and showed whole on the page. A name typed with a title
or a qualifier ("王芳 女士", "Li Na (mother)") protected only the whole string, never the name said alone.
"""

from __future__ import annotations

import unicodedata

import pytest

from events.errors import DomainError
from events.publishing.erased_fingerprints import ErasedFingerprints, KnownPersonalData
from events.publishing.redaction import Finding, check_publishable, find_personal_data, fingerprint, mask
from events.reference import load_reference

HIDDEN = {
    "soft hyphen": "\u00ad",
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "word joiner": "\u2060",
    "invisible operators": "\u2061\u2062\u2063\u2064",
    "byte order mark": "\ufeff",
    "combining grapheme joiner": "\u034f",
    "mongolian vowel separator": "\u180e",
    "mongolian variation selector": "\u180b",
    "variation selectors": "\ufe00\ufe0f",
    "supplementary variation selector": "\U000e0100",
    "tag characters": "\U000e0041\U000e007f",
    "hangul fillers": "\u115f\u1160",
    "khmer inherent vowels": "\u17b4\u17b5",
    "bidi embedding and pop": "\u202a\u202c",
    "bidi override": "\u202d",
    "bidi isolates": "\u2066\u2067\u2068\u2069",
}
ADDRESS_ZH = "广东省深圳市南山区海港路88号3栋502室"
ADDRESS_EN = "12 Harbour Road, Flat 5B"
SECRET = b"s" * 32

# (text with {h} where the hidden characters go, the complainant's known values, the kind found, the span found)
SPLIT = [
    ("call 13{h}7111{h}12222 today", [], "mobile", "13{h}7111{h}12222"),
    ("call 1371111222{h}2 today", [], "mobile", "1371111222{h}2"),
    ("write to li{h}ming@exam{h}ple.org", [], "email", "li{h}ming@exam{h}ple.org"),
    ("身份证1101{h}0519491231002X", [], "resident_id", "1101{h}0519491231002X"),
    ("L{h}iu Yang will be called", ["Liu Yang"], "known_person", "L{h}iu Yang"),
    ("Liu{h}Yang will be called", ["Liu Yang"], "known_person", "Liu{h}Yang"),
    ("L{h}iu{h}Yang will be called", ["Liu Yang"], "known_person", "L{h}iu{h}Yang"),
    ("Thanks to Tai{h}Man Chan", ["Chan Tai-man"], "known_person", "Tai{h}Man Chan"),
    ("已联系王{h}芳，明天上门", ["王芳"], "known_person", "王{h}芳"),
    ("请勿前往海港路{h}88号", [ADDRESS_ZH], "known_person", "海港路{h}88号"),
    ("Pumps at 12 Har{h}bour Road today", [ADDRESS_EN], "known_person", "12 Har{h}bour Road"),
    ("Pumps at 12 Harbour{h}Road today", [ADDRESS_EN], "known_person", "12 Harbour{h}Road"),
    ("mail qv@exam{h}ple.org", ["qv@example.org"], "email", "qv@exam{h}ple.org"),
]
# The guard read these as spaces before: a known phone's digits may be grouped any way, so they split none.
READ_AS_SPACES = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")

KNOWN_SPLIT = [case for case in SPLIT if case[1]]  # a pattern needs no fingerprint


def erased(known: list[str]) -> KnownPersonalData:
    """The guard's view of these values once the complainant asked to be forgotten: fingerprints only."""
    return KnownPersonalData([], ErasedFingerprints(SECRET, frozenset(fingerprint(known, SECRET))))


def only(text: str, known: list[str] | KnownPersonalData) -> Finding:
    (finding,) = find_personal_data(text, known)
    return finding


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize(("text", "known", "kind", "span"), SPLIT, ids=[case[0] for case in SPLIT])
def test_invisible_characters_do_not_split_personal_data_past_the_guard(
    text: str, known: list[str], kind: str, span: str, hidden: str
) -> None:
    text, span = text.format(h=hidden), span.format(h=hidden)
    finding = only(text, known)
    assert (finding.kind, text[finding.start : finding.end]) == (kind, span)
    assert not any(unicodedata.category(c) == "Cf" for c in finding.masked)  # shown as it shows
    # Masked whole, the hidden characters inside the match too: nothing of it is left to render.
    assert mask(text, known) == text.replace(span, "*" * len(span))


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize(
    ("text", "known", "kind", "span"), KNOWN_SPLIT, ids=[case[0] for case in KNOWN_SPLIT]
)
def test_invisible_characters_do_not_split_an_erased_complainants_data(
    text: str, known: list[str], kind: str, span: str, hidden: str
) -> None:
    text, span = text.format(h=hidden), span.format(h=hidden)
    finding = only(text, erased(known))
    assert (finding.kind, text[finding.start : finding.end]) == (
        "email" if kind == "email" else "erased_complainant",
        span,
    )


@pytest.mark.parametrize("hidden", [h for h in HIDDEN.values() if h not in READ_AS_SPACES])
def test_invisible_characters_do_not_split_a_known_phone_said_without_its_country_code(hidden: str) -> None:
    text, phone = f"ring 912{hidden}34567 after six", ["+852 9123 4567"]
    for known in (phone, erased(phone)):
        finding = only(text, known)
        assert text[finding.start : finding.end] == f"912{hidden}34567"
    assert mask(text, phone) == "ring " + "*" * (8 + len(hidden)) + " after six"


GLUED = [
    ("ID{h}11010519491231002X", "resident_id", "11010519491231002X"),
    ("ID 11010519491231002X{h}called", "resident_id", "11010519491231002X"),
    ("No{h}110101900307451", "resident_id", "110101900307451"),
    ("Tel{h}+852 2345 6789", "international_phone", "+852 2345 6789"),
]


# "" is the number run into the word visibly. The guard read the five zero-width characters as spaces before:
# those cases keep what it found then (a hidden character removed now joins the word and the number).
@pytest.mark.parametrize("hidden", ["", *HIDDEN.values()], ids=["visible", *HIDDEN.keys()])
@pytest.mark.parametrize(("text", "kind", "span"), GLUED, ids=[case[0] for case in GLUED])
def test_a_number_run_into_a_word_is_still_found(text: str, kind: str, span: str, hidden: str) -> None:
    text = text.format(h=hidden)
    finding = only(text, [])
    assert (finding.kind, text[finding.start : finding.end]) == (kind, span)


def test_every_format_character_inside_a_mobile_is_seen_through() -> None:
    """Unicode category Cf as a whole, not a list of the ones a review happened to try."""
    missed = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.category(chr(code)) == "Cf"
        and [f.kind for f in find_personal_data(f"call 13{chr(code)}711112222")] != ["mobile"]
    ]
    assert missed == []


def test_a_note_with_invisible_characters_is_refused_as_the_review_wrote_it() -> None:
    known = ["Liu Yang", "13711112222"]
    for note in ("call 137\u00ad1111\u00ad2222", "call 137\u200e1111\u200e2222", "Liu\u00adYang will be called",
                 "L\u200biu Yang"):  # fmt: skip
        with pytest.raises(DomainError) as refused:
            check_publishable({"text": note}, known)
        assert refused.value.code == "contains_personal_data"


@pytest.mark.parametrize(
    ("known", "text", "found"),
    [
        ("王芳 女士", "已联系王芳，明天上门", "王芳"),
        ("王芳女士", "王芳来电反映积水", "王芳"),
        ("陈大文先生", "感谢陈大文提供照片", "陈大文"),
        ("李小红阿姨", "李小红已转移", "李小红"),
        ("市民李小红", "李小红已转移", "李小红"),
        ("张伟（父亲）", "已联系张伟", "张伟"),
        ("张伟 (父亲)", "已联系张伟", "张伟"),
        ("【业主】王芳", "王芳已回电", "王芳"),
        ("Ms Li Na", "Li Na will be called back", "Li Na"),
        ("Ms. Li Na", "Thanks to Na Li", "Na Li"),
        ("Li Na (mother)", "Li Na will be called back", "Li Na"),
        ("Li Na [neighbour]", "Li Na will be called back", "Li Na"),
        ("Mrs Liu Yang (mother)", "liu yang called", "liu yang"),
        ("Dr. Chan Tai-man", "Chan Tai Man called", "Chan Tai Man"),
        ("Prof Chan Tai Man", "Tai Man Chan called", "Tai Man Chan"),
        ("Li Na 女士", "Li Na called", "Li Na"),
        ("Ms 王芳", "王芳来电", "王芳"),
        ("任何女士", "投诉人：任何", "任何"),  # a common word: found only where a name stands, as before
        # A surname alone after a title is found after any title, never as the word it also is.
        ("Mr Park", "Dr Park will visit", "Dr Park"),
        ("Ms Park", "Thanks to Mrs. Park", "Mrs. Park"),
    ],
)
def test_a_name_typed_with_a_title_or_a_qualifier_protects_the_name_alone(
    known: str, text: str, found: str
) -> None:
    finding = only(text, [known])
    assert (finding.kind, text[finding.start : finding.end]) == ("known_person", found)
    assert mask(text, [known]) == text.replace(found, "*" * len(found))
    finding = only(text, erased([known]))
    assert (finding.kind, text[finding.start : finding.end]) == ("erased_complainant", found)


@pytest.mark.parametrize(
    ("known", "clean", "leak"),
    [
        ("Ms Park", "Victoria Park reopened; park rangers on site", "Dr Park called"),  # a word too
        ("Dr Green", "The green belt is flooded", "Mr. Green called"),
        ("Ms Li Na (mother)", "Mother and child were rescued", "Li Na called"),  # the qualifier is nobody's
        ("张伟（父亲）", "父亲节活动照常", "已联系张伟"),
        ("市民任何", "任何人不得进入积水区域", "任何来电"),  # a common word as a core stays guarded
        ("王先生", "王府井先生们请注意", "王\u200b先生来电"),  # one character is no name
        ("先生", "各位先生女士请注意", None),  # a title alone is nobody's name
        ("Mr", "Mr Smith called", None),
        ("Hu Ge", "A huge pump arrived", "Hu\u00adGe called"),  # run together only where a boundary hides
        ("Li Ke", "We like the new pumps", "LiKe called"),
        ("Liu Yang", "Liuyang Road reopened", "Liu\u200eyang called"),
        # An address is no name with a title: stripped, its rest was anyone's (found by a review of the change)
        ("居民楼5号", "东区大楼5号门已开放", "居民楼5号门口"),
        ("老人村3号", "新村3号停水", "老人村3号停水"),
        ("Block 3 (Tower B)", "Block 3 of the estate is dry", None),
        ("Flat 12 (Block C)", "Flat 12 on the first floor is fine", None),
    ],
)
def test_titles_and_qualifiers_make_no_ordinary_word_a_name(known: str, clean: str, leak: str | None) -> None:
    for values in ([known], erased([known])):
        assert find_personal_data(clean, values) == []
        if leak is not None:  # while the name itself is found
            assert [f.kind for f in find_personal_data(leak, values)] in (
                ["known_person"],
                ["erased_complainant"],
            )


@pytest.mark.parametrize(
    ("known", "text", "found"),
    [
        ("Liu Yang", "LiuYang will be called", "LiuYang"),  # what "Liu\u00adYang" shows as
        ("Liu Yang", "Thanks YangLiu", "YangLiu"),
        ("Chan Tai-man", "ChanTaiMan called", "ChanTaiMan"),
    ],
)
def test_a_name_run_together_where_its_capitals_show_the_words_is_found(
    known: str, text: str, found: str
) -> None:
    finding = only(text, [known])
    assert (finding.kind, text[finding.start : finding.end]) == ("known_person", found)


@pytest.mark.parametrize(
    "text",
    [
        "Inter\u00adnational aid arrives to\u00admorrow; resi\u00addents thank the crews.",
        "Thanks for your support ❤️👍🏽 and 家人平安❤️",
        "社区志愿者\u200d已到场，12345热线\ufe0f畅通。",
        "Call the 12345 hotline, or 110, 119, 120 in an emergency.\u200b",
        "Flood level 13.8\u00ad m at 14:05; gauge 0.75.",
        "\u2067عاجل\u2069 flood warning",
    ],
)
def test_ordinary_text_with_invisible_characters_stays_clean_and_only_the_split_data_is_masked(
    text: str,
) -> None:
    known = ["Liu Yang", "13711112222", "王芳 女士", ADDRESS_ZH, ADDRESS_EN]
    assert find_personal_data(text, known) == []
    leak = " Liu\u00adYang: 137\u200e1111\u200e2222"
    assert mask(text + leak, known) == text + " " + "*" * 8 + ": " + "*" * 13


@pytest.mark.parametrize(
    "number", ["0756-2345 6789", "0756\u00ad-2345\u200e 6789", "+86\u2060 756 2345 6789 ❤️"]
)
def test_the_citys_published_number_may_be_printed_with_invisible_characters_in_it(number: str) -> None:
    public, known = load_reference().public_numbers, ["Liu Yang", "王芳 女士"]
    check_publishable({"body_zh": f"区应急办电话 {number}"}, known, public)
    with pytest.raises(DomainError) as refused:  # not the complainant's, beside it
        check_publishable({"body_zh": f"区应急办电话 {number}，王芳：137\u00ad1111\u00ad2222"}, known, public)
    assert refused.value.code == "contains_personal_data"
