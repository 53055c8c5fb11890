"""The embedded servers' passwords in `levee up`'s data directory: made once and kept, made anew when the file
is emptied, refused when hand-edited into something a URL cannot carry unescaped."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.settings import SettingsError
from services.up import server_passwords

NAME = server_passwords.NATS_FILE


def test_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    made = server_passwords.load_or_create(tmp_path, NAME)
    assert len(made) >= 32 and stat.S_IMODE((tmp_path / NAME).stat().st_mode) == 0o600
    assert server_passwords.load_or_create(tmp_path, NAME) == made


def test_an_emptied_file_gets_a_new_password(tmp_path: Path) -> None:
    (tmp_path / NAME).write_text("\n")
    made = server_passwords.load_or_create(tmp_path, NAME)
    assert made and (tmp_path / NAME).read_text().strip() == made


@pytest.mark.parametrize("typed", ["pass word", "p@ss", "a/b", "x:y", "50%"])
def test_a_hand_edited_password_a_url_cannot_carry_is_refused_saying_what_to_do(
    tmp_path: Path, typed: str
) -> None:
    (tmp_path / NAME).write_text(typed + "\n")
    with pytest.raises(SettingsError, match="delete it"):
        server_passwords.load_or_create(tmp_path, NAME)


def test_the_nats_url_and_config_carry_the_user_and_password() -> None:
    assert server_passwords.nats_url_with_user("nats://127.0.0.1:4222", "abc_DEF-1") == (
        "nats://levee:abc_DEF-1@127.0.0.1:4222"
    )
    assert 'user: "levee"' in server_passwords.nats_authorization("abc_DEF-1")
