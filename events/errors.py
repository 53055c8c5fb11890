"""The one error the domain raises when a command makes no sense in the current state."""

from __future__ import annotations


class DomainError(Exception):
    """A refused command: nothing was recorded.

    ``code`` is stable and machine-readable (the API maps it to a problem+json type),
    ``message`` is the sentence a person reads, ``field`` names the offending input if one did, ``found``
    lists what was found where, for a page to say in its own words (the redaction guard's findings).
    """

    def __init__(
        self, code: str, message: str, *, field: str | None = None, found: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.found = found or []

    def __repr__(self) -> str:
        return f"DomainError(code={self.code!r}, message={self.message!r}, field={self.field!r})"


def require(condition: bool, code: str, message: str, *, field: str | None = None) -> None:
    """Raise a DomainError unless ``condition`` holds; keeps command guards one line each."""
    if not condition:
        raise DomainError(code, message, field=field)


def require_text(value: str, field: str) -> None:
    """Free-text inputs that carry meaning (reasons, summaries) must say something."""
    require(
        isinstance(value, str) and value.strip() != "",
        f"{field}_required",
        f"A {field.replace('_', ' ')} is required.",
        field=field,
    )
