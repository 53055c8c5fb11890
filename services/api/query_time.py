"""A date-time typed into a URL's query: ISO 8601, with what a query string does to it undone.

An unescaped "+" in a query string is a space once decoded: `?start=2026-07-01T08:00:00+08:00` arrives as
"2026-07-01T08:00:00 08:00", and every error message suggested exactly that form. So a space before a trailing
offset is read as the "+" it was.
"""

from __future__ import annotations

import re
from datetime import datetime

_PLUS_DECODED = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ][0-9:.]+) (\d{2}(?::?\d{2})?)$")


def parse_query_time(text: str) -> datetime:
    """The date-time in `text` (naive if it gives no offset); ValueError when it is none."""
    text = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = _PLUS_DECODED.sub(r"\1+\2", text)
    return datetime.fromisoformat(text)
