"""The contact secret in the data directory: made once, whole, and said clearly when it is not usable."""

from __future__ import annotations

import argparse
import asyncio
import stat
from pathlib import Path

import pytest
import structlog

from services import cli
from services.settings import Settings, SettingsError
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


@pytest.mark.parametrize("made_by_up", [True, False])
async def test_a_service_run_on_its_own_hashes_with_the_data_directorys_secret_and_never_makes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made_by_up: bool
) -> None:
    """`levee serve api` beside a `levee up`'s data directory stored complaints without a contact hash, so
    duplicates went unseen and caller history answered 503 (found by a review). A secret of its own would be
    worse: hashes that match no other process's."""
    secret = contact_secret.load_or_create(tmp_path) if made_by_up else None
    seen: list[bytes | None] = []

    async def service(settings: Settings, stop: asyncio.Event) -> None:
        seen.append(settings.contact_hash_secret)

    monkeypatch.setattr(cli, "service", lambda name: service)
    settings = Settings.from_env({"LEVEE_DATA_DIR": str(tmp_path)})
    assert await cli._serve(settings, argparse.Namespace(name="api", parent_pid=None), {}) == 0
    assert seen == [secret]
    assert [p.name for p in tmp_path.iterdir()] == ([contact_secret.FILE_NAME] if made_by_up else [])


@pytest.mark.parametrize("restored", [["nats", "postgres"], ["postgres"], []])
def test_a_secret_made_beside_restored_data_is_a_warning_saying_what_it_breaks(
    tmp_path: Path, restored: list[str]
) -> None:
    """A restore that left contact_secret out got a new one, logged like a first start: every stored contact
    hash then matched nothing (repeat callers unseen, erasure by phone finding no one)."""
    for name in restored:
        (tmp_path / name).mkdir()
    with structlog.testing.capture_logs() as logged:
        contact_secret.load_or_create(tmp_path)
    [line] = [e for e in logged if e["event"].startswith("contact_secret_created")]
    if restored:
        assert (line["log_level"], line["existing"]) == ("warning", restored)
        assert "restore its contact_secret" in line["advice"]
    else:
        assert (line["log_level"], line["event"]) == ("info", "contact_secret_created")
