"""What command's approval of a notice names: the digest of the text it read (events/notice.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.notice import text_digest


def approval_of(text: Mapping[str, Any]) -> dict[str, str]:
    """The body of `POST /api/v1/notices/{id}/approve` for a notice whose working text is `text`."""
    fields = ("title_en", "title_zh", "body_en", "body_zh", "status")
    return {"text_sha256": text_digest(*(text[f] for f in fields))}
