"""A secret still holding the shipped placeholder (deploy/env.example's change-me-..., deploy/kubernetes/
secret.yaml's CHANGE-ME-...) stops the process, naming the setting and never printing the value."""

from __future__ import annotations

import pytest

from services.settings import Settings, SettingsError

NATS = "nats://api:{}@nats-1:4222"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"LEVEE_CONTACT_SECRET": "change-me-contact-secret-at-least-32-characters"}, "LEVEE_CONTACT_SECRET"),
        ({"LEVEE_CONTACT_SECRET": "CHANGE-ME-to-a-random-secret-of-at-least-32-characters"}, "LEVEE_CONTACT_SECRET"),
        ({"LEVEE_CONTACT_SECRET": "x" * 32 + "Change-Me"}, "LEVEE_CONTACT_SECRET"),
        ({"DATABASE_URL": "postgresql://levee:CHANGE-ME@postgres.levee.svc:5432/levee"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://levee:change-me-postgres-password@postgres:5432/levee"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://levee@postgres:5432/levee?password=change-me"}, "DATABASE_URL"),
        ({"NATS_URL": NATS.format("change-me-nats-api-password")}, "LEVEE_NATS_API_PASSWORD"),
        ({"NATS_URL": "nats://ok:" + "a" * 32 + "@n1:4222," + NATS.format("CHANGE-ME-x")}, "NATS user 'api'"),
        ({"NATS_URL": "nats://change-me-token@nats-1:4222"}, "NATS_URL"),
        ({"LEVEE_OPEN311_API_KEYS": "a-real-key-0123456789,change-me-open311-key"}, "LEVEE_OPEN311_API_KEYS"),
    ],
    ids=[
        "env.example contact secret", "secret.yaml contact secret", "placeholder anywhere, any case",
        "secret.yaml database password", "env.example database password", "database password in the query",
        "env.example NATS password", "one server of a cluster", "NATS token", "an Open311 key",
    ],
)  # fmt: skip
def test_a_placeholder_secret_is_refused_naming_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match="placeholder") as refused:
        Settings.from_env(environ)
    assert named in str(refused.value)
    # Never the value: the placeholder's own words ("contact-secret", "nats-api-password", ...) are not echoed.
    assert not any(
        word in str(refused.value).lower()
        for word in ("-secret-", "-password", "-at-least-", "-token", "-key")
    )


@pytest.mark.parametrize(
    "environ",
    [
        {"LEVEE_CONTACT_SECRET": "k" * 48},
        {"DATABASE_URL": "postgresql://change-me@postgres:5432/levee"},  # a user name is not a secret
        {"DATABASE_URL": "postgresql://levee:s3cret@change-me.example:5432/levee"},  # nor a host
        {"NATS_URL": NATS.format("0123456789abcdef" * 4)},
    ],
)
def test_real_secrets_and_placeholder_looking_names_pass(environ: dict[str, str]) -> None:
    Settings.from_env(environ)


def test_replace_refuses_a_placeholder_too() -> None:
    with pytest.raises(SettingsError, match="LEVEE_CONTACT_SECRET"):
        Settings().replace(contact_hash_secret=b"change-me" * 4)
