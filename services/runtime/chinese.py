"""Chinese as one script: traditional characters written simplified, for every reader of free text.

Triage's lexicon and the operator card's danger terms are written in simplified characters; a caller in Hong
Kong types 電梯困人, 煤氣洩漏. OpenCC's maintained tables (characters and phrases) convert them: 電線 -> 电线,
洩漏 -> 泄漏, 𨋢 -> 䢂. Cantonese words written the same in both scripts (冇, 喺, 咗) are left as they are.
"""

from __future__ import annotations

import functools
import re

import opencc

_SURROGATE = re.compile("([\ud800-\udfff])")


def simplified(text: str) -> str:
    """``text`` with traditional Chinese written simplified; a text with no traditional character (most: in
    simplified Chinese or English) is returned as it is, at the cost of a set test."""
    if text.isascii() or traditional_characters().isdisjoint(text):
        return text
    try:
        return _t2s().convert(text)
    except UnicodeError:  # a lone surrogate ("電梯\ud800困人"): OpenCC takes UTF-8 only; convert around it
        parts = _SURROGATE.split(text)  # the surrogates at odd indices, kept as they are
        return "".join(part if i % 2 else _t2s().convert(part) for i, part in enumerate(parts))


@functools.cache
def _t2s() -> opencc.OpenCC:
    # OpenCC's maintained traditional-to-simplified tables (characters and phrases): 電線 -> 电线, 洩漏 ->
    # 泄漏, 𨋢 -> 䢂. Cantonese words written the same in both scripts (冇, 喺, 咗) are left as they are.
    return opencc.OpenCC("t2s")


@functools.cache
def traditional_characters() -> frozenset[str]:
    """The characters t2s changes on their own: a text holding none is left alone. Read once from the
    converter itself (every CJK ideograph in one call, about 0.1 s), so it always agrees with its tables."""
    ideographs = [chr(c) for low, high in _CJK_BLOCKS for c in range(low, high)]
    converted = _t2s().convert("\n".join(ideographs)).split("\n")
    return frozenset(a for a, b in zip(ideographs, converted, strict=True) if a != b)


# CJK ideographs: Extension A, the unified block, compatibility ideographs, Extensions B-F, supplement.
_CJK_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0), (0x2A700, 0x2EBF0),
               (0x2F800, 0x2FA20))  # fmt: skip
