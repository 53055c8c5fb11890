"""The redaction guard, pure: personal data a public notice must never carry.

Finds phone numbers (mainland mobiles, landlines written with an area code, international numbers written
with +, and 8-digit local numbers after a word saying they are one: "call 9123 4567", "电话 2612 3456"),
resident ID numbers (18 characters whose checksum and birth date hold), email addresses, and the names and
addresses of the incident's complainants. A finding says what kind it is and where, and shows
the match masked: the guard's own output must not leak what it found.
Short service numbers (12345, 110, 120) and order numbers, dates and times are not phone numbers.

Known names and addresses are matched the way people rewrite them, not only verbatim: case, full-width
characters, hyphens and spacing are normalised; a Latin name's words match in any order ("Wei Li" for
"Li Wei"); an address matches by its identifying core, street plus house number ("海港路88号" for
"南山区海港路88号3栋502室", "12 Harbour Rd" for "12 Harbour Road, Flat 5B"). A street without a number is
not personal data: notices name streets all the time. A name typed with a title or a qualifier ("王芳 女士",
"Li Na (mother)") is also looked for without them, never as a single character or a bare Latin word ("Ms Park"
makes "Dr Park" a name, not "park").

Every matcher reads the text as it shows: invisible characters (soft hyphens, joiners, direction marks, variation
selectors, any format character) are removed, not read as spaces, so "137\\u00ad1111\\u00ad2222" is one number and
"L\\u200biu" one word; a finding spans the invisible characters inside it, and a mask covers them.

An erased complainant's values are matched the same ways, through the keyed fingerprints kept when their key
was erased (events.publishing.erased_fingerprints): given a `KnownPersonalData` that carries them, the guard
hashes each window of the text it would have compared with a known value, and compares the digests.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, NamedTuple

from events.errors import DomainError
from events.publishing.erased_fingerprints import KnownPersonalData, Lookups, entry

Kind = Literal[
    "mobile", "landline", "international_phone", "resident_id", "email", "known_person", "erased_complainant"
]

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# The patterns read a view of the text where full-width forms are ASCII (made only when the text holds such a
# character: most Chinese text has none, and the copy cost 45 ns a character), and with nothing hidden (`_shown`).
# Dashes of every kind and full-width brackets are in the patterns themselves: Chinese text is full of "——"
# and "（）". A number's edges are ASCII letters and digits only, never \w: a Chinese text runs words and
# numbers together ("电话+8613812345678"), and a Han neighbour must not hide a match. An ID number's and an
# international number's edges are digits alone: a checksum and a birth date, or a digit count, tell them from
# a code, and "ID11010519491231002X", "Tel+852 2345 6789" is also how a hidden character between reads. An
# email's name is the whole run of word characters before its "@", in any script: "张伟@", "rené@", and also the
# Chinese words run into it ("发邮件至zhang@163.com联系" masks 发邮件至 too: masking too much is the safe side).
# The run starts where the text's word characters start, so a long run is scanned once, not from each of its
# characters. After the address, any Han character is a neighbour.
_DASHES = "\\-\u2010-\u2015\u2212\ufe58\ufe63"
_SEP = f"[\\s.{_DASHES}]"
# After a person's name, two round numbers joined by a dash ("2000-3000 户", a shift's 2000-2300) are a range and
# 20261207 a date, not a phone (after "call" or 电话 they are a phone like any other).
_NOT_A_LOCAL_NUMBER = f"(?![2-9]\\d00[{_DASHES}]\\d\\d00(?![\\d{_DASHES}]))(?!20[2-3]\\d(0[1-9]|1[0-2])([0-2]\\d|3[01])(?!\\d))"
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("email", re.compile(
        r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
    )),
    # Whole, or written in its parts (region, birth date, sequence): "110105 19491231 002X".
    ("resident_id", re.compile(f"(?<![0-9])\\d{{6}}{_SEP}?\\d{{8}}{_SEP}?\\d{{3}}[\\dXx](?![0-9])")),
    ("resident_id", re.compile(r"(?<![0-9])\d{15}(?![0-9])")),  # the first generation's, to 2013
    # +CC then 6-14 more digits in groups: "+852 2345 6789", "+1 (415) 555-0100", "+86 138 1234 5678".
    ("international_phone", re.compile(
        f"(?<![0-9_+])\\+\\d{{1,3}}(?:{_SEP}?[(（]?\\d{{1,4}}[)）]?){{2,5}}(?!\\d)"
    )),
    # 3-4-4 as written most, or 4-3-4 ("1381-234-5678").
    ("mobile", re.compile(
        f"(?<![\\d+])(?:(?:00)?86{_SEP}?)?1[3-9]\\d(?:{_SEP}?\\d{{4}}|\\d{_SEP}\\d{{3}}){_SEP}?\\d{{4}}(?!\\d)"
    )),
    # Area code 0xx(x), set off by a hyphen, a space or brackets: "010-12345678", "(0755) 8888 8888".
    ("landline", re.compile(
        f"(?<![\\d{_DASHES}])(?:[(（]0\\d{{2,3}}[)）]\\s?|0\\d{{2,3}}[\\s{_DASHES}])\\d{{3,4}}[\\s{_DASHES}]?\\d{{4}}"
        f"(?![\\d{_DASHES}])"
    )),
    # A local number without its area code, 8 digits as the city's landlines and Hong Kong's numbers are dialled
    # ("2612 3456", "9123-4567"), only after a word saying it is one: bare, 8 digits are as often an order, a case
    # or a count. The finding is the number (group n), not the word.
    ("landline", re.compile(
        f"(?i:电话|手机|座机|致电|拨打|打给|联系|号码|热线|(?<![a-z])(?:call|phone|tel|ring|number|whatsapp|contact|"
        f"mobile)(?![a-z]))[^\\d\\n]{{0,12}}?(?P<n>(?<![\\d{_DASHES}])[2-9]\\d{{3}}[\\s{_DASHES}]?\\d{{4}}"
        f"(?![\\d{_DASHES}]))"
    )),
    # Or after the name of the person it reaches ("Mr Chan at 9123 8888", 陈师傅 91238888: found by a review of the
    # public pages; not Dr, which is also a road). After a name, unlike after "call", a round range
    # (李主任: 2000-3000 户) or a date (王经理通知：20261207 起) is what it is, not a phone.
    ("landline", re.compile(
        f"(?i:先生|女士|小姐|太太|师傅|经理|主任|队长|工程师|(?<![a-z])(?:mr|mrs|ms|miss|madam)(?![a-z]))"
        f"[^\\d\\n]{{0,12}}?(?P<n>(?<![\\d{_DASHES}]){_NOT_A_LOCAL_NUMBER}[2-9]\\d{{3}}[\\s{_DASHES}]?\\d{{4}}"
        f"(?![\\d{_DASHES}]))"
    )),
)  # fmt: skip
_EIGHT_DIGITS = re.compile(f"(?<!\\d)\\d{{4}}[\\s{_DASHES}]?\\d{{4}}(?!\\d)")
_PATTERN_VIEW = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})
# What makes a view worth its copy: full-width digits, letters, + - . @.
_NEEDS_VIEW = re.compile("[\uff0b\uff0d\uff0e\uff10-\uff19\uff20-\uff3a\uff41-\uff5a]")
# What shows nothing: format characters (Unicode category Cf: soft hyphen, zero-width spaces and joiners,
# direction marks, embeddings and isolates, invisible operators, tags), variation selectors, the grapheme joiner,
# Hangul choseong/jungseong fillers, Khmer inherent vowels, Mongolian selectors. Every matcher reads the text
# with them removed (`_shown`), never replaced by a space: "137\u00ad1111\u00ad2222" is one number and
# "L\u200biu" one word, as a reader sees them. Blanks that show as a space are read as one.
_HIDDEN = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]+|[\u2800\u3164\uffa0]"
)
_BLANKS = frozenset("\u2800\u3164\uffa0")
# The gate, run on every text: `_HIDDEN`'s characters outside the BMP would make the scan four times slower
# (4 µs a notice), so any such character opens the gate and `_HIDDEN` decides.
_MAY_HIDE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\u2800\u3164\uffa0\U00010000-\U0010ffff]"
)
# A lower-case letter then a capital inside one word: a boundary a name's words may be run together at
# ("LiuYang"), as at a removed hidden character. Either is a joint (`_joined_matches`).
_CAMEL = re.compile("[a-z\u00df-\u00f6\u00f8-\u00ff][A-Z\u00c0-\u00d6\u00d8-\u00de]")
# A mobile written the international way ("+86 138 ...", "0086 138 ...") is a mobile: a draft refuses it too.
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
# A count or a number running into a time of day ("+120 (08-15 14:00)") is no phone; a mobile or an ID number
# before a colon ("值班电话13812345678：8:00-20:00") still is.
_TIME_MAY_FOLLOW = frozenset({"international_phone", "landline"})
_ENDS_IN_AN_HOUR = re.compile(r"(?<!\d)\d{1,2}$")
# What a text must hold for a pattern to match at all: most complaint texts have no "@" or "+", many no digit.
_PATTERN_NEEDS: dict[Kind, str] = {"email": "@", "international_phone": "+"}
_ANY_DIGIT = re.compile(r"\d")  # as the patterns' \d: any Unicode digit
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MIN_KNOWN = 2  # a single character is no name: it would match everywhere
_MIN_PHONE_DIGITS = 7  # a known phone's digits alone, matched however they are grouped: not a short code

_IS_HAN = re.compile(f"[{_HAN}]")
# Traditional forms an address is written with in Hong Kong; both sides are read in simplified.
_TRADITIONAL = str.maketrans("號棟樓區縣鎮", "号栋楼区县镇")
_ANY_TRADITIONAL = re.compile("[號棟樓區縣鎮]")  # translate() looks up every character: only when needed
# Combining marks (and kana voicing marks): NFKC may merge them into the character before, moving positions.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a]")
# A Latin-script word: letters and digits, never Han (a Han character ends a Latin name).
_TOKEN = re.compile(f"(?:(?![{_HAN}])[^\\W_])+")
# What may stand between the words of one name or address: "Chan Tai-man", "Li, Wei", "12 Harbour Rd."
_GAP = re.compile(r"[\s,.'’·・\-‐‑‒–—]*")
_HYPHEN_IN_WORD = re.compile(r"(?<=\w)[-‐‑]+(?=\w)")
_STREET_TYPES = {
    "road": "rd", "street": "st", "avenue": "ave", "av": "ave", "lane": "ln", "drive": "dr",
    "boulevard": "blvd", "highway": "hwy", "terrace": "ter", "terr": "ter", "place": "pl",
    "crescent": "cres", "court": "ct", "square": "sq",
}  # fmt: skip
_STREET_ENDS = frozenset({*_STREET_TYPES.values(), "way", "path", "close"})
# A known value that is only "Harbour Road" names a street, not a person: left alone. "way", "court" and
# the like are left out: they end ordinary names too.
_BARE_STREET_ENDS = frozenset({"rd", "st", "ave", "ln", "blvd", "hwy"})
_UNIT_WORDS = frozenset(
    {"flat", "unit", "room", "rm", "apt", "apartment", "suite", "floor", "fl", "block", "blk"}
)
_NATIONAL_NUMBER = re.compile(r"\+\d{1,3}[\s.-]+(\d[\d\s-]{6,})")
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?")
_MAX_STREET_WORDS = 4
# Street + house number, the street read as its last two characters so "南山区" or "深圳市" before it
# cannot hide it: "海港路88号", "深南大道1号", "幸福里3号". The flat (3栋502室) is not part of the core.
_ZH_STREET = re.compile(
    f"([{_HAN}]{{1,2}})(大道|路|街|道|巷|胡同|里)([0-9〇零一二三四五六七八九十百千两]+(?:-[0-9]+)?号)"
)
_ZH_ADMIN = "省市区县镇乡道"  # "区新路": the district's last character, not the street's
_ZH_BARE_STREET = re.compile(f"[{_HAN}]{{2,}}(?:大道|路|街|巷|胡同)")
# Two-character names that are also everyday words in a notice. Such a name is still found when it stands
# alone or beside a title or a reporting verb ("张力先生", "市民任何反映"), but not inside running Chinese
# text ("任何人", "应急抢修"): the trade-off is a miss where the word is used as a word, against a notice
# that could never say "应急" again because one complainant shares the word as a name.
_COMMON_ZH_WORDS = frozenset(
    "应急 停电 停水 供电 供水 安全 任何 关于 于是 高温 周边 方向 时间 马上 严重 文化 万一 路面 江水 水位 "
    "高峰 高度 程度 黄河 林业 华南 周末 常规 任务 方便 张力 江山 平安 信息 电力 通信 道路 交通 救援 市民 "
    "居民 社区 部门 目前 正在 情况 工作 恢复 抢修 预计 注意 台风 暴雨 洪水 积水 区域 地区 全市 政府 通知 "
    "公告 单位 人员 车辆 明天 今天 上午 下午 晚上 金融 高速 石油 海港 东方 向前 万家 宁静 和平".split()
)
_ZH_AFTER_NAME = ("先生", "女士", "小姐", "太太", "夫人", "同学", "老师", "师傅", "阿姨", "叔叔", "伯伯",
                  "阿伯", "大爷", "大妈", "奶奶", "爷爷", "婆婆", "阿婆", "医生", "同志",
                  "反映", "投诉", "来电", "表示", "称")  # fmt: skip
_ZH_BEFORE_NAME = ("居民", "市民", "业主", "住户", "投诉人", "来电人", "患者", "老人")
# A reporter's name as typed, with a title or a qualifier ("王芳 女士", "Ms Li Na", "张伟（父亲）"): the name
# without them is the name too. A qualifier in brackets is dropped, never indexed ("父亲" is nobody's name).
_OPENING_BRACKETS = frozenset("([{【〔〖")  # full-width ones are folded to ASCII by NFKC
_BRACKETED = re.compile(r"[(\[{【〔〖][^)\]}】〕〗]*[)\]}】〕〗]?")
_EN_TITLES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "madam", "madame", "sir", "mister",
              "doctor", "mme", "mlle", "dame", "lady")  # fmt: skip
_EN_TITLE = re.compile(f"^(?:(?:{'|'.join(_EN_TITLES)})(?![a-z\u00e0-\u00ff])\\.?[\\s,]*)+")
_ZH_TITLES_BEFORE = re.compile(f"^(?:{'|'.join(_ZH_BEFORE_NAME)})+")
_ZH_TITLES_AFTER = re.compile(f"(?:{'|'.join(_ZH_AFTER_NAME)})+$")
_LETTER = re.compile(r"[^\W\d_]")
_NAME_EDGES = " \t,.:;'\"-—–，。：；、"
_MAX_JOINED_WORDS = 4  # a name of more words is looked for run together in its own order only


@dataclass(frozen=True)
class Finding:
    kind: Kind
    start: int
    end: int
    masked: str  # the match with most characters starred, safe to show and log


@dataclass(frozen=True)
class _View:
    """Text normalised for matching, with where each of its characters came from in the original."""

    text: str
    origin: Sequence[int]  # a range when normalising kept every character in place

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


@dataclass
class _KnownIndex:
    """The known values, compiled once per check into lookups: matching is then linear in the text."""

    # Verbatim values (Han names and addresses, phones, emails) read without spaces, by their first two
    # characters: each text position looks at a handful of candidates, not at every known value.
    compact: dict[str, dict[int, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    guarded: set[str] = field(default_factory=set)  # common words: see _COMMON_ZH_WORDS
    in_order: dict[int, set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))
    any_order: dict[int, set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))
    # Latin names and addresses with their words run together ("liuyang", "yangliu"), by length: looked for
    # only where a word may hide a boundary (`_joined_matches`), so "Hu Ge" never makes "huge" a name.
    joined: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Known phones by their digits alone, dialled inside the country, and a landline's local number too: the
    # text's numbers are read the same way, whatever stands between their digits (`_phone_matches`).
    phones: set[str] = field(default_factory=set)
    erased: Lookups | None = None  # erased complainants' lookups, the same as these, as keyed digests


def find_personal_data(text: str, known_names_addresses: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in ``text``, in order; overlapping matches keep the longer one."""
    return _find(text, _index(known_names_addresses))


def mask(text: str, known_names_addresses: Iterable[str] = (), *, fill: str = "*") -> str:
    """``text`` with every finding replaced by ``fill`` characters of the same length."""
    out, last = [], 0
    for finding in find_personal_data(text, known_names_addresses):
        out.append(text[last : finding.start])
        out.append(fill * (finding.end - finding.start))
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def check_publishable(
    texts: Mapping[str, str], known_names_addresses: Iterable[str] = (), public_numbers: Iterable[str] = ()
) -> None:
    """Refuse (DomainError ``contains_personal_data``) text a notice must not publish; say what and where.
    ``public_numbers``: the city's own published lines (reference data), however they are written."""
    index = _index(known_names_addresses)
    published = {_national_digits(number) for number in public_numbers}
    found = {
        field: [f for f in _find(value, index) if not _is_published(f, value, published)]
        for field, value in texts.items()
    }
    found = {field: findings for field, findings in found.items() if findings}
    if found:
        detail = "; ".join(
            f"{field}: " + ", ".join(f"{f.kind} {f.masked} at {f.start}-{f.end}" for f in findings)
            for field, findings in found.items()
        )
        raise DomainError(
            "contains_personal_data", f"The notice carries personal data: {detail}.", field=next(iter(found)),
            found=[{"field": field, "kind": f.kind, "excerpt": f.masked} for field, fs in found.items() for f in fs],
        )  # fmt: skip


_PHONE_KINDS = frozenset({"mobile", "landline", "international_phone"})


def _digits(number: str) -> str:
    return "".join(c for c in number.translate(_PATTERN_VIEW) if c.isdigit())


def _national_digits(number: str) -> str:
    """A number's digits as dialled inside the country: "+86 756 2345 6789", "0086-756..." -> "07562345...",
    leading zero of the area code restored so both writings compare equal."""
    return _national_form(_digits(number))


def _national_form(digits: str) -> str:
    """`_national_digits` of a number given as its digits alone."""
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 9:
            rest = digits[len(prefix) :]
            return rest if rest.startswith(("0", "1")) else "0" + rest
    return digits


def _runs_into_a_time(view: str, end: int, value: str) -> bool:
    """An hour and a colon and minutes at its end ("+120 (08-15 14:00)", "14：00"): a count and a date, no phone."""
    return (
        view[end : end + 1] in (":", "：")
        and view[end + 1 : end + 2].isdigit()
        and _ENDS_IN_AN_HOUR.search(value) is not None
    )


def _mainland(number: str) -> str:
    """The digits after a +86 or 0086 prefix ("" without one): a mainland number written the international way."""
    digits = _digits(number)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    return ""


def _is_published(finding: Finding, text: str, published: set[str]) -> bool:
    """One of the city's own lines, as written or dialled locally (its 8 digits without the area code)."""
    if finding.kind not in _PHONE_KINDS:
        return False
    digits = _national_digits(text[finding.start : finding.end])
    return digits in published or (
        len(digits) == 8
        and any(line.startswith("0") and line[-8:] == digits and len(line) <= 12 for line in published)
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


def valid_old_resident_id(value: str) -> bool:
    """The 15-digit number issued until 2013 (GB 11643-1989): a region code, a birth date in the 1900s (yymmdd)
    and three digits, no check character. Order numbers rarely hold a real date just there."""
    if len(value) != 15 or not value.isdigit() or value[0] not in "12345678":
        return False
    try:
        date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    except ValueError:
        return False
    return True


def _find(text: str, index: _KnownIndex) -> list[Finding]:
    if not _MAY_HIDE.search(text) or not _HIDDEN.search(text):
        return _find_shown(text, index, [])  # almost every text: no copy
    shown, origin, joints = _shown(text)
    # Back in the text's positions: a finding, and so the mask, spans the hidden characters inside it too.
    return [
        Finding(f.kind, origin[f.start], origin[f.end - 1] + 1, f.masked)
        for f in _find_shown(shown, index, joints)
    ]


def _shown(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` as it shows: hidden characters removed, blanks read as spaces; where each character of it came
    from; and its joints, the positions where something hidden stood (a word may run two together there)."""
    parts: list[str] = []
    origin: list[int] = []
    joints: list[int] = []
    last = 0
    for hidden in _HIDDEN.finditer(text):
        start, end = hidden.span()
        parts.append(text[last:start])
        origin.extend(range(last, start))
        if hidden.group() in _BLANKS:
            parts.append(" ")
            origin.append(start)
        else:
            joints.append(len(origin))
        last = end
    parts.append(text[last:])
    origin.extend(range(last, len(text)))
    return "".join(parts), origin, joints


def _find_shown(text: str, index: _KnownIndex, joints: list[int]) -> list[Finding]:
    """`_find` on a text with nothing hidden; ``joints``: where `_shown` removed something."""
    candidates: list[Finding] = []
    has_digit = _ANY_DIGIT.search(text) is not None
    view = text.translate(_PATTERN_VIEW) if _NEEDS_VIEW.search(text) else text
    for kind, pattern in _PATTERNS:
        needs = _PATTERN_NEEDS.get(kind)
        if (needs is not None and needs not in view) or (kind != "email" and not has_digit):
            continue  # an email needs an "@", an international number a "+"; every number a digit
        part = "n" if "n" in pattern.groupindex else 0  # the number alone, not the word before it
        if part and _EIGHT_DIGITS.search(view) is None:
            continue  # the words are sought at every character: only in a text with a number to find
        for match in pattern.finditer(view):
            start, end = match.span(part)
            value = match.group(part)
            if not _plausible(kind, value):
                continue
            found: Kind = kind
            if kind in _PHONE_KINDS and kind != "mobile" and _CN_MOBILE.fullmatch(_mainland(value)):
                found = "mobile"
            if found in _TIME_MAY_FOLLOW and _runs_into_a_time(view, end, value):
                continue
            candidates.append(Finding(found, start, end, _mask_value(text[start:end], found)))
    any_known = index.compact or index.in_order or index.any_order or index.erased is not None
    folded = _fold_in_place(text) if any_known else None
    spans = [*_compact_matches(text, folded, index), *_known_word_matches(text, folded, index, joints)]
    if index.phones and has_digit:
        spans += _phone_matches(view, index.phones)
    candidates += [Finding("known_person", s, e, _mask_value(text[s:e], "known_person")) for s, e in spans]
    if index.erased is not None:
        # Starred whole: the guard's answer must not give back even a letter of a person who is forgotten.
        erased = _erased_matches(text, folded, view if has_digit else "", index.erased, joints)
        candidates += [Finding("erased_complainant", s, e, "*" * (e - s)) for s, e in erased]
    return _without_overlaps(candidates)


def _erased_matches(
    text: str, folded: str | None, view: str, erased: Lookups, joints: list[int]
) -> list[tuple[int, int]]:
    """Where an erased complainant's value is written: `_find`'s matchers, each window hashed and compared with
    the fingerprints. Without a first character to look for, every window of every size is hashed: a notice
    of 2,000 characters and a few sizes is a few thousand HMACs; a value read without spaces only where one of
    its kind can start (`_starts_of`), so a Latin text is not hashed at every letter for a phone or a Han
    name. ``view``: as `_phone_matches` reads it."""
    spans = []
    if erased.compact:
        compact, guarded = _normalise(text, folded, compact=True), erased.guarded
        for (starts, size), digests in erased.compact.items():
            for pos in _window_starts(compact.text, starts, size):
                value = compact.text[pos : pos + size]
                if value in digests and _stands_as_found(text, compact, value, pos, pos + size, guarded):
                    spans.append(compact.span(pos, pos + size))
    if erased.in_order or erased.any_order:
        words = _WordLookups(erased.in_order, erased.any_order, erased.joined)
        spans += _word_matches(text, folded, words, None, joints)
    if erased.phones.digests and view:
        spans += _phone_matches(view, erased.phones)
    return spans


def _starts_of(value: str) -> str:
    """Where a window that is ``value`` can start: "@" holds an at sign (an email), "d" starts with a digit or a
    plus (a phone), "h" with a Han character, "o" anywhere."""
    if "@" in value:
        return "@"
    if value[0].isdigit() or value[0] == "+":
        return "d"
    return "h" if _IS_HAN.match(value) else "o"


def _window_starts(text: str, starts: str, size: int) -> Iterable[int]:
    last = len(text) - size  # the last start a window of `size` fits at
    if starts == "@":
        at_signs = [i for i, char in enumerate(text) if char == "@"]
        return sorted({pos for i in at_signs for pos in range(max(0, i - size + 1), min(i, last) + 1)})
    if starts == "d":
        return [pos for pos, char in enumerate(text[: max(0, last + 1)]) if char.isdigit() or char == "+"]
    if starts == "h":
        return [match.start() for match in _IS_HAN.finditer(text, 0, max(0, last + 1))]
    return range(last + 1)


# --- known values: how each is indexed ---------------------------------------------------------------


def _index(known_names_addresses: Iterable[str]) -> _KnownIndex:
    index = _KnownIndex()
    for known in known_names_addresses:
        _add_known(index, known)
    if isinstance(known_names_addresses, KnownPersonalData) and known_names_addresses.erased is not None:
        index.erased = known_names_addresses.erased.lookups()
    return index


def fingerprint(values: Iterable[str], secret: bytes) -> list[str]:
    """The erased-complainant entries of ``values`` (a reporter's name, address, phone, email): every lookup the
    guard makes for them, keyed, so the guard still finds them once the values are gone."""
    index = _index(values)
    found = {entry(secret, "c" + _starts_of(v), size, v) for by_size in index.compact.values()
             for size, vs in by_size.items() for v in vs}  # fmt: skip
    found |= {entry(secret, "g", len(v), v) for v in index.guarded}
    found |= {entry(secret, "w", size, " ".join(w)) for size, ws in index.in_order.items() for w in ws}
    found |= {entry(secret, "a", size, " ".join(w)) for size, ws in index.any_order.items() for w in ws}
    found |= {entry(secret, "p", len(digits), digits) for digits in index.phones}
    found |= {entry(secret, "j", size, v) for size, vs in index.joined.items() for v in vs}
    return sorted(found)


def _add_known(index: _KnownIndex, known: str) -> None:
    if _MAY_HIDE.search(known) and _HIDDEN.search(known):
        known = _shown(known)[0]
    folded = "".join(map(_fold, known))
    core = _core_name(folded) if _may_have_title(folded) else None
    if core == "":
        return  # a title or a qualifier alone ("先生", "Mr"): nobody's name, and an everyday word
    if core == folded.strip(_NAME_EDGES):
        core = None
    # With its title or qualifier, a name is looked for run together through its core only.
    _add_value(index, folded, run_together=core is None)
    if core is not None:
        _add_core(index, core)


def _may_have_title(folded: str) -> bool:
    """Whether `_core_name` may strip anything: most known values are a bare name, an address or a phone."""
    return (
        "@" not in folded  # an email
        # an address: "居民楼5号" is no 居民 before a name, "Flat 12 (Block C)" no name with a qualifier (a review
        # found a known address stripped so made "楼5号" and "Flat 12" anyone's)
        and not any(c.isdigit() for c in folded)
        and bool(
            not _OPENING_BRACKETS.isdisjoint(folded)
            or _EN_TITLE.match(folded)
            or folded.lstrip(_NAME_EDGES).startswith(_ZH_BEFORE_NAME)
            or folded.rstrip(_NAME_EDGES).endswith(_ZH_AFTER_NAME)
        )
        and _LETTER.search(folded) is not None  # not a phone, "(020) 3456 7890"
    )


def _core_name(folded: str) -> str:
    """A name without its titles and bracketed qualifiers: "li na" for "ms li na (mother)", "王芳" for "王芳 女士"."""
    core = folded if _OPENING_BRACKETS.isdisjoint(folded) else _BRACKETED.sub(" ", folded)
    core = core.strip(_NAME_EDGES)
    while True:
        before = core
        if title := _EN_TITLE.match(core):
            core = core[title.end() :]
        if core.startswith(_ZH_BEFORE_NAME):
            core = _ZH_TITLES_BEFORE.sub("", core)
        if core.endswith(_ZH_AFTER_NAME):
            core = _ZH_TITLES_AFTER.sub("", core)
        core = core.strip(_NAME_EDGES)
        if core == before:
            return core


def _add_core(index: _KnownIndex, core: str) -> None:
    """A core is indexed as a known value is (so never one character, and a common word stays guarded), but a
    single Latin word only after a title: "Ms Park" must not make every "park" a name, while "Dr Park" is her."""
    words = _TOKEN.findall(core)
    if not _LETTER.search(core):
        return  # "Room 5 (Mr)": a name's core has a letter, else it is a number, not a name
    if len(words) == 1 and words[0] == core and not _IS_HAN.search(core):
        if len(core) >= _MIN_KNOWN:
            for title in _EN_TITLES:
                _add_words(index, index.in_order, (title, _word(core)), (title, core))
        return
    _add_value(index, core)


def _add_words(
    index: _KnownIndex,
    lookup: dict[int, set[tuple[str, ...]]],
    words: tuple[str, ...],
    raw: Sequence[str],
    *,
    run_together: bool = True,
) -> None:
    """Words of a known value, into `lookup` (in order or any order), and run together into `joined`: as
    indexed (street types shortened) and as written, in any order for a name of few words."""
    any_order = lookup is index.any_order
    lookup[len(words)].add(tuple(sorted(words)) if any_order else words)
    if not run_together:
        return
    spelled = tuple(raw)
    for form in (words,) if spelled == words else (words, spelled):
        orders = itertools.permutations(form) if any_order and len(form) <= _MAX_JOINED_WORDS else (form,)
        for order in orders:
            joined = "".join(order)
            index.joined[len(joined)].add(joined)


def _add_value(index: _KnownIndex, folded: str, *, run_together: bool = True) -> None:
    compact = "".join(folded.split())
    if len(compact) < _MIN_KNOWN:
        return
    has_han = bool(_IS_HAN.search(compact))
    if has_han:
        _add_han(index, compact)
    elif "@" in compact or not any(c.isalpha() for c in compact):
        _add_compact(index, compact)  # an email or a phone: verbatim, spacing aside
        digits = "".join(c for c in compact if c.isdigit())
        if "@" not in compact and len(digits) >= _MIN_PHONE_DIGITS and digits != compact:
            _add_compact(index, digits)  # "0755-8888-6666" also written "0755 8888 6666" or "075588886666"
        if national := _NATIONAL_NUMBER.fullmatch(folded):
            _add_compact(index, "".join(national.group(1).split()))  # "+852 9123 4567" said "9123 4567"
            index.phones.add(_digits(national.group(1)))
        if "@" not in compact and len(digits) >= _MIN_PHONE_DIGITS:
            index.phones.update(_dialled_forms(digits))
        return
    raw = _TOKEN.findall(folded)
    words = [_word(t) for t in raw]
    _add_english_cores(index, words, raw)
    if has_han:
        return
    if any(c.isdigit() for c in compact):
        _add_words(index, index.in_order, tuple(words), raw)  # a Latin address, as written
    else:
        _add_latin_name(index, folded, words, raw, run_together=run_together)


def _dialled_forms(digits: str) -> set[str]:
    """How a known phone's digits may be dialled: as given, inside the country, and a landline's local number
    without its area code ("0755-8888-6666" said "8888 6666"; the area code is 0 and two digits for 010 and
    02x, else 0 and three)."""
    national = _national_form(digits)
    forms = {digits, national}
    if national.startswith("0") and not national.startswith("00"):
        local = national[3:] if national[1] in "12" else national[4:]
        if 7 <= len(local) <= 8:
            forms.add(local)
    return {form for form in forms if len(form) >= _MIN_PHONE_DIGITS}


def _add_han(index: _KnownIndex, compact: str) -> None:
    for match in _ZH_STREET.finditer(compact):
        street = match.group(1)
        if len(street) == 2 and street[0] in _ZH_ADMIN:
            street = street[1:]
        _add_compact(index, street + match.group(2) + match.group(3))
    if _ZH_BARE_STREET.fullmatch(compact):
        return  # "海港路": a street, not a person
    if len(compact) == 2 and compact in _COMMON_ZH_WORDS:
        index.guarded.add(compact)
    _add_compact(index, compact)


def _add_english_cores(index: _KnownIndex, words: list[str], raw: list[str]) -> None:
    """Number, street, type: "12 Harbour Rd" out of "Flat 5B, 12/F, Harbour Building, 12 Harbour Road"."""
    for i, number in enumerate(words):
        if not _HOUSE_NUMBER.fullmatch(number) or (i and words[i - 1] in _UNIT_WORDS):
            continue
        for j in range(i + 2, min(i + 2 + _MAX_STREET_WORDS, len(words))):
            if words[j] in _STREET_ENDS:
                core = tuple(words[i : j + 1])
                if not any(w in {"f", "floor"} or w.isdigit() for w in core[1:]):
                    _add_words(index, index.in_order, core, raw[i : j + 1])
                break


def _add_latin_name(
    index: _KnownIndex, folded: str, words: list[str], raw: list[str], *, run_together: bool
) -> None:
    if len(words) > 1 and words[-1] in _BARE_STREET_ENDS:
        return  # "Harbour Road": a street, not a person
    if len(words) == 1 and len(words[0]) < _MIN_KNOWN:
        return
    _add_words(index, index.any_order, tuple(words), raw, run_together=run_together)
    # "Chan Tai-man" is also written "Chan Taiman"; the hyphenless reading of the text is covered by _GAP.
    joined = [_word(t) for t in _TOKEN.findall(_HYPHEN_IN_WORD.sub("", folded))]
    index.any_order[len(joined)].add(tuple(sorted(joined)))


def _add_compact(index: _KnownIndex, value: str) -> None:
    index.compact[value[:2]][len(value)].add(value)


def _word(token: str) -> str:
    return _STREET_TYPES.get(token, token)


# --- matching the text ---------------------------------------------------------------------------------


def _normalise(text: str, folded: str | None, *, compact: bool = False) -> _View:
    """NFKC (full-width to ASCII), case-folded, simplified address characters; ``compact`` drops spaces.
    ``folded`` is ``_fold_in_place(text)``, made once for both views.

    Every normalised character knows where it came from in ``text``: whole-string when that keeps every
    character in place (almost every complaint: intake masks each one), else character by character."""
    if folded is not None:
        if not compact:
            return _View(folded, range(len(folded)))
        kept = [i for i, char in enumerate(folded) if not char.isspace()]
        return _View("".join(folded.split()), kept)  # split() drops what isspace() calls space
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        for out in _fold(char):
            if not (compact and out.isspace()):
                chars.append(out)
                origin.append(i)
    return _View("".join(chars), tuple(origin))


def _fold_in_place(text: str) -> str | None:
    """``text`` folded as `_fold` folds each character, if no character grows, shrinks or combines."""
    if text.isascii():
        return text.lower()  # casefold on ASCII
    if _COMBINING.search(text):
        return None
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):
        return None
    folded = folded.casefold()
    if _ANY_TRADITIONAL.search(folded):
        folded = folded.translate(_TRADITIONAL)
    return folded if len(folded) == len(text) else None


@functools.lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    # Thousands of known values per check, from a few hundred distinct characters: fold each once.
    return unicodedata.normalize("NFKC", char).casefold().translate(_TRADITIONAL)


def _compact_matches(text: str, folded: str | None, index: _KnownIndex) -> list[tuple[int, int]]:
    if not index.compact:
        return []
    view = _normalise(text, folded, compact=True)
    spans = []
    # Each known value's first two characters are looked for with str.find: a handful of searches in C
    # rather than a dictionary look-up at every position of the text (two thirds of masking a complaint).
    for prefix, by_size in index.compact.items():
        pos = view.text.find(prefix)
        while pos != -1:
            for size, values in by_size.items():
                value = view.text[pos : pos + size]
                if value in values and _stands_as_found(text, view, value, pos, pos + size, index.guarded):
                    spans.append(view.span(pos, pos + size))
            pos = view.text.find(prefix, pos + 1)
    return spans


# A written number: digit groups with at most two separators between them ("(0755) 8888-6666", "1381-234-5678").
_NUMBER_RUN = re.compile(f"\\d+(?:(?:[\\s.()（）{_DASHES}]){{1,2}}\\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
_MAX_PHONE_GROUPS = 6


def _phone_matches(view: str, phones: Container[str]) -> list[tuple[int, int]]:
    """Where a known phone is written, however its digits are grouped: consecutive digit groups of one written
    number whose digits, as dialled inside the country, are a known phone's. `view` is the text as the patterns
    read it (full-width digits ASCII), in the text's positions."""
    spans = []
    for run in _NUMBER_RUN.finditer(view):
        if run.end() - run.start() < _MIN_PHONE_DIGITS:
            continue  # a count, a house number: most of a text's numbers
        groups = [(m.start(), m.group()) for m in _DIGIT_GROUP.finditer(view, run.start(), run.end())]
        for i, (start, _) in enumerate(groups):
            number = ""
            for at, digits in groups[i : i + _MAX_PHONE_GROUPS]:
                number += digits
                if len(number) > 15:  # longer than any phone number (E.164)
                    break
                if number in phones or _national_form(number) in phones:
                    spans.append((start, at + len(digits)))
    return spans


def _stands_as_found(text: str, view: _View, value: str, pos: int, end: int, guarded: Container[str]) -> bool:
    start, stop = view.span(pos, end)
    if value[0].isdigit() and start and text[start - 1].isdigit():
        return False  # a phone "23456789" is not inside "123456789"
    if value[-1].isdigit() and stop < len(text) and text[stop].isdigit():
        return False
    if value not in guarded:
        return True
    before, after = view.text[max(0, pos - 3) : pos], view.text[end : end + 2]
    alone = not _IS_HAN.match(before[-1:]) and not _IS_HAN.match(after[:1])
    return alone or before.endswith(_ZH_BEFORE_NAME) or after.startswith(_ZH_AFTER_NAME)


def _known_word_matches(
    text: str, folded: str | None, index: _KnownIndex, joints: list[int]
) -> list[tuple[int, int]]:
    if not index.in_order and not index.any_order:
        return []
    known_words = {w for by_size in (index.in_order, index.any_order) for ws in by_size.values() for t in ws
                   for w in t}  # fmt: skip
    lookups = _WordLookups(index.in_order, index.any_order, index.joined)
    return _word_matches(text, folded, lookups, known_words, joints)


_NOTHING: frozenset[tuple[str, ...]] = frozenset()


class _WordLookups(NamedTuple):  # made per check: a tuple is made faster than a frozen dataclass
    """Known Latin words, clear (`_KnownIndex`) or as digests (`Lookups`): by length in words, and run together
    by length in characters."""

    in_order: Mapping[int, Container[tuple[str, ...]]]
    any_order: Mapping[int, Container[tuple[str, ...]]]
    joined: Mapping[int, Container[str]]


def _word_matches(
    text: str, folded: str | None, lookups: _WordLookups, known_words: set[str] | None, joints: list[int]
) -> list[tuple[int, int]]:
    """``known_words``: every word of the known values, to skip windows fast; None when they are fingerprints.
    ``joints``: where `_shown` removed a hidden character, in ``text``'s positions."""
    view = _normalise(text, folded)
    if lookups.joined and _CAMEL.search(text):
        joints = sorted({*joints, *(camel.start() + 1 for camel in _CAMEL.finditer(text))})
    elif not lookups.joined:
        joints = []
    if (
        known_words is not None
        and not joints
        and known_words.isdisjoint(map(_word, _TOKEN.findall(view.text)))
    ):
        return []  # no known word at all (most texts): no runs to build
    in_order, any_order = lookups.in_order, lookups.any_order
    lengths = sorted({*in_order, *any_order})
    sizes = [(n, in_order.get(n, _NOTHING), any_order.get(n, _NOTHING)) for n in lengths]
    spans = []
    for run in _word_runs(view):
        if joints and lengths:
            spans += _joined_matches(view, run, lookups.joined, joints, lengths[-1])
        words = [w for w, _, _ in run]
        for i, first in enumerate(words):
            if known_words is not None and first not in known_words:
                continue  # every word of a match is a known one, its first too: most windows end here
            for size, ordered, unordered in sizes:
                if i + size > len(words):
                    break
                window = tuple(words[i : i + size])
                if window in ordered or tuple(sorted(window)) in unordered:
                    spans.append(view.span(run[i][1], run[i + size - 1][2]))
    return spans


def _joined_matches(
    view: _View,
    run: list[tuple[str, int, int]],
    joined: Mapping[int, Container[str]],
    joints: list[int],
    most: int,
) -> list[tuple[int, int]]:
    r"""A known value's words run together where a word holds a joint: "Liu\u00adYang" shows as "LiuYang", and
    "Chan\u200bTai Man" as "ChanTai Man". Each window of the run's words that takes in such a word is read run
    together, as the text writes it and with street types shortened, and looked up by its length."""
    spans = []
    for k, (_, start, end) in enumerate(run):
        first, last = view.span(start, end)
        at = bisect_right(joints, first)
        if at == len(joints) or joints[at] >= last:
            continue  # no joint inside this word: `_word_matches` reads it
        for i in range(max(0, k - most + 1), k + 1):
            for j in range(k + 1, min(len(run), i + most) + 1):
                window = run[i:j]
                written = "".join(view.text[a:b] for _, a, b in window)
                shortened = "".join(word for word, _, _ in window)
                if any(form in joined.get(len(form), ()) for form in {written, shortened}):
                    spans.append(view.span(window[0][1], window[-1][2]))
    return spans


def _word_runs(view: _View) -> list[list[tuple[str, int, int]]]:
    """The text's Latin words, in runs of words that stand next to each other (a name's words do)."""
    runs: list[list[tuple[str, int, int]]] = []
    last_end = -1
    for match in _TOKEN.finditer(view.text):
        if runs and _GAP.fullmatch(view.text, last_end, match.start()):
            runs[-1].append((_word(match.group()), match.start(), match.end()))
        else:
            runs.append([(_word(match.group()), match.start(), match.end())])
        last_end = match.end()
    return runs


def _plausible(kind: Kind, value: str) -> bool:
    if kind == "resident_id":
        value = "".join(c for c in value if c.isalnum())  # written in its parts: "110105 19491231 002X"
        return valid_resident_id(value) if len(value) == 18 else valid_old_resident_id(value)
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
    if kind == "email":  # its first letters may be a whole Han name ("张伟@...")
        return value[0] + "*" * (n - 5) + value[-4:]
    return value[:3] + "*" * (n - 7) + value[-4:]


def _without_overlaps(candidates: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (f.start, -(f.end - f.start))):
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept
