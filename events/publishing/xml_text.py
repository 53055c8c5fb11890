"""Text as XML 1.0 can carry it: the characters it forbids are taken out before a feed or alert is written.

ElementTree escapes `<`, `&` and `>` but writes a vertical tab or a NUL as it is, and one such character makes
the whole document unparseable: the Atom feed holds the newest notices, so every reader would lose all of
them. Staff text is refused with control characters at the API; this guards what an older stream holds.
"""

from __future__ import annotations

import re

# XML 1.0's Char production leaves out C0 controls but tab, LF and CR, surrogates, and U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})  # a word processor's soft line and page breaks


def xml_text(value: str) -> str:
    """`value` with XML's forbidden characters removed (line and page breaks become line feeds)."""
    if not _FORBIDDEN.search(value):
        return value
    return _FORBIDDEN.sub("", value.translate(_BREAKS))
