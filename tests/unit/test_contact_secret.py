"""The contact secret in the data directory: made once, whole, and said clearly when it is not usable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.settings import SettingsError
from services.up import contact_secret


def test_made_once_private_and_the_same_at_every_start(tmp_path: Path) -> None:
    first = contact_secret.load_or_create(tmp_path)
    assert len(first) == 64 and contact_secret.load_or_create(tmp_path) == first
    path = tmp_path / contact_secret.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [contact_secret.FILE_NAME]  # nothing staged left behind
    (tmp_path / f".{contact_secret.FILE_NAME}.crashed1").write_text("a secret a crashed start was writing\n")
    assert contact_secret.load_or_create(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [contact_secret.FILE_NAME]  # and that one is gone


def test_an_empty_one_names_the_file_and_what_to_do_not_a_variable_never_set(tmp_path: Path) -> None:
    (tmp_path / contact_secret.FILE_NAME).write_text("")
    with pytest.raises(SettingsError, match="contact_secret is empty") as refused:
        contact_secret.load_or_create(tmp_path)
    assert "LEVEE_CONTACT_SECRET is too short" not in str(refused.value)
