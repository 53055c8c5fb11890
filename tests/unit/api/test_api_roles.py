"""Roles a token may carry, and the role checks' answers (401 for the public, 403 naming the role needed)."""

from __future__ import annotations

import re

import pytest

from services.api.auth import require_holding_department, require_role
from services.api.principal import PUBLIC, Principal
from services.api.problems import Problem
from services.api.tokens import PREFIX, RoleError, check_role, hash_token, new_token


@pytest.mark.parametrize("role", ["operator", "command", "press", "department:water", "department:power"])
def test_known_roles_are_accepted(role: str) -> None:
    assert check_role(role) == role


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("department:atlantis", "no department 'atlantis'"),
        ("department:", "is not a role"),
        ("admin", "is not a role"),
        ("public", "is not a role"),
        ("Command", "is not a role"),
    ],
)
def test_unknown_roles_are_refused_with_the_known_ones(role: str, message: str) -> None:
    with pytest.raises(RoleError, match=message):
        check_role(role)


def test_tokens_are_long_random_and_stored_as_a_hash() -> None:
    first, second = new_token(), new_token()
    assert first != second
    assert re.fullmatch(PREFIX + r"[A-Za-z0-9_-]{43}", first)
    assert len(hash_token(first)) == 32 and first.encode() not in hash_token(first)


def test_the_public_is_asked_to_authenticate() -> None:
    with pytest.raises(Problem) as caught:
        require_role(PUBLIC, ("command",))
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_role_is_told_which_role_is_needed() -> None:
    with pytest.raises(Problem) as caught:
        require_role(Principal("press", "Press desk", "tok_1"), ("command", "department"))
    assert caught.value.status == 403
    assert "command or department:<code>" in caught.value.detail
    assert caught.value.extensions["required_roles"] == ["command", "department:<code>"]


def test_department_staff_only_touch_their_own_departments_case() -> None:
    water = Principal("department:water", "Water desk", "tok_2")
    require_holding_department(water, "water")
    with pytest.raises(Problem) as caught:
        require_holding_department(water, "power")
    assert caught.value.status == 403 and caught.value.code == "not_your_department"
    with pytest.raises(Problem):
        require_holding_department(water, None)  # returned: with nobody
    require_holding_department(Principal("command", "Command", "tok_3"), "power")  # not a department
