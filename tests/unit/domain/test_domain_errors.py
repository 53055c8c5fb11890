from __future__ import annotations

import pytest

from events.errors import DomainError, require


def test_domain_error_carries_code_message_and_field() -> None:
    error = DomainError(
        "not_dispatched_to_department", "The complaint is with water, not power.", field="department"
    )
    assert (error.code, error.message, error.field, str(error)) == (
        "not_dispatched_to_department", "The complaint is with water, not power.", "department",
        "The complaint is with water, not power.",
    )  # fmt: skip


def test_require_raises_only_when_condition_fails() -> None:
    require(True, "never", "never raised")
    with pytest.raises(DomainError, match="why"):
        require(False, "code", "why")
