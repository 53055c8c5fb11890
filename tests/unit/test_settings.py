"""Settings come from the environment once; a bad value stops the process with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

import events.reference
import services.dispatch
import services.triage
from services.settings import Settings, SettingsError, without_password, without_passwords

SECRET = "s" * 32

PARSED = [
    ({}, {"nats_url": None, "database_url": None, "nats_stream": "LEVEE_EVENTS", "http_host": "127.0.0.1",
          "http_port": 8080, "data_dir": Path(".levee"), "log_format": "json", "log_level": "info",
          "contact_hash_secret": None, "service_name": "levee"}),
    ({"NATS_URL": "nats://10.0.0.5:4222"}, {"nats_url": "nats://10.0.0.5:4222"}),
    ({"NATS_URL": "tls://nats.example:4443"}, {"nats_url": "tls://nats.example:4443"}),
    ({"DATABASE_URL": "postgresql://u:p@db:5432/levee"}, {"database_url": "postgresql://u:p@db:5432/levee"}),
    ({"DATABASE_URL": "postgres://db/levee"}, {"database_url": "postgres://db/levee"}),
    ({"DATABASE_URL": "  "}, {"database_url": None}),
    ({"LEVEE_STREAM": "DRILL_EVENTS"}, {"nats_stream": "DRILL_EVENTS"}),
    ({"LEVEE_HTTP_HOST": "0.0.0.0", "LEVEE_HTTP_PORT": "9000"}, {"http_host": "0.0.0.0", "http_port": 9000}),
    ({"LEVEE_DATA_DIR": "/var/lib/levee"}, {"data_dir": Path("/var/lib/levee")}),
    ({"LEVEE_LOG_FORMAT": "CONSOLE"}, {"log_format": "console"}),
    ({"LEVEE_LOG_LEVEL": "DEBUG"}, {"log_level": "debug"}),
    ({"LEVEE_CONTACT_SECRET": SECRET}, {"contact_hash_secret": SECRET.encode()}),
    ({"LEVEE_SERVICE": "api-2"}, {"service_name": "api-2"}),
    ({"LEVEE_METRICS_PORT": "9100"}, {"metrics_port": 9100}),
    ({"LEVEE_METRICS_PORT": ""}, {"metrics_port": 0}),
    ({}, {"http_idle_seconds": 75.0, "http_body_seconds": 30.0}),
    ({"LEVEE_HTTP_IDLE_SECONDS": "620", "LEVEE_HTTP_BODY_SECONDS": "2.5"},
     {"http_idle_seconds": 620.0, "http_body_seconds": 2.5}),
    ({"LEVEE_PUBLIC_URL": "https://levee.city.example/"}, {"public_url": "https://levee.city.example"}),
    ({}, {"public_url": None}),
    ({"LEVEE_CORS_ORIGINS": "https://WWW.City.Example:443, http://localhost:3000"},
     {"cors_origins": ("https://www.city.example", "http://localhost:3000")}),
    ({"LEVEE_CORS_ORIGINS": "https://ville.café"}, {"cors_origins": ("https://ville.xn--caf-dma",)}),
    ({}, {"rate_limits": (), "shared_addresses": (), "shared_address_factor": 20.0}),
    ({"LEVEE_RATE_LIMITS": "intake=5/200, status = 2 / 60 ,"},
     {"rate_limits": (("intake", 5.0, 200.0), ("status", 2.0, 60.0))}),
    ({"LEVEE_SHARED_ADDRESSES": "100.64.0.0/10, 2001:db8::/48", "LEVEE_SHARED_ADDRESS_FACTOR": "50"},
     {"shared_addresses": ("100.64.0.0/10", "2001:db8::/48"), "shared_address_factor": 50.0}),
    ({"UNRELATED": "x"}, {}),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "expected"), PARSED)
def test_settings_read_from_environment(environ: dict[str, str], expected: dict[str, object]) -> None:
    settings = Settings.from_env(environ)
    for field, value in expected.items():
        assert getattr(settings, field) == value, field


BAD = [
    ({"NATS_URL": "http://localhost:4222"}, "NATS_URL"),
    ({"NATS_URL": "localhost:4222"}, "NATS_URL"),
    ({"NATS_URL": "nats://"}, "NATS_URL"),
    ({"NATS_URL": "nats://host:notaport"}, "NATS_URL"),
    ({"DATABASE_URL": "mysql://db/levee"}, "DATABASE_URL"),
    ({"DATABASE_URL": "db:5432"}, "DATABASE_URL"),
    ({"LEVEE_STREAM": "levee.events"}, "LEVEE_STREAM"),
    ({"LEVEE_STREAM": "A" * 65}, "LEVEE_STREAM"),
    ({"LEVEE_HTTP_PORT": "eighty"}, "LEVEE_HTTP_PORT"),
    ({"LEVEE_HTTP_PORT": "0"}, "LEVEE_HTTP_PORT"),
    ({"LEVEE_HTTP_PORT": "65536"}, "LEVEE_HTTP_PORT"),
    ({"LEVEE_HTTP_PORT": "-1"}, "LEVEE_HTTP_PORT"),
    ({"LEVEE_LOG_FORMAT": "xml"}, "LEVEE_LOG_FORMAT"),
    ({"LEVEE_LOG_LEVEL": "verbose"}, "LEVEE_LOG_LEVEL"),
    ({"LEVEE_CONTACT_SECRET": "short"}, "LEVEE_CONTACT_SECRET"),
    ({"LEVEE_SERVICE": "Api Server"}, "LEVEE_SERVICE"),
    ({"LEVEE_METRICS_PORT": "nine"}, "LEVEE_METRICS_PORT"),
    ({"LEVEE_METRICS_PORT": "65536"}, "LEVEE_METRICS_PORT"),
    ({"LEVEE_HTTP_IDLE_SECONDS": "a minute"}, "LEVEE_HTTP_IDLE_SECONDS"),
    ({"LEVEE_HTTP_IDLE_SECONDS": "0"}, "LEVEE_HTTP_IDLE_SECONDS"),
    ({"LEVEE_HTTP_BODY_SECONDS": "nan"}, "LEVEE_HTTP_BODY_SECONDS"),
    ({"LEVEE_HTTP_BODY_SECONDS": "-1"}, "LEVEE_HTTP_BODY_SECONDS"),
    ({"LEVEE_HTTP_BODY_SECONDS": "86400"}, "LEVEE_HTTP_BODY_SECONDS"),
    ({"LEVEE_PUBLIC_URL": "levee.city.example"}, "LEVEE_PUBLIC_URL"),
    ({"LEVEE_RATE_LIMITS": "intake=2"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "intake"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "staff=2/60"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "intake=0/60"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "intake=nan/60"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "intake=2/0.5"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_RATE_LIMITS": "intake=2/60,intake=3/60"}, "LEVEE_RATE_LIMITS"),
    ({"LEVEE_SHARED_ADDRESSES": "100.64.0.0/10,carrier"}, "LEVEE_SHARED_ADDRESSES"),
    ({"LEVEE_RATE_LIMITS": "intake=1e-320/60"}, "LEVEE_RATE_LIMITS"),  # a Retry-After beyond any number
    ({"LEVEE_SHARED_ADDRESSES": "2001:db8::1/128"}, "LEVEE_SHARED_ADDRESSES"),  # a v6 client is its /64
    ({"LEVEE_SHARED_ADDRESS_FACTOR": "0.5"}, "LEVEE_SHARED_ADDRESS_FACTOR"),
    ({"LEVEE_SHARED_ADDRESS_FACTOR": "lots"}, "LEVEE_SHARED_ADDRESS_FACTOR"),
    ({"LEVEE_CORS_ORIGINS": "*"}, "LEVEE_CORS_ORIGINS"),
    ({"LEVEE_CORS_ORIGINS": "https://a:99999"}, "LEVEE_CORS_ORIGINS"),
    ({"LEVEE_CORS_ORIGINS": "https://:443"}, "LEVEE_CORS_ORIGINS"),
    ({"LEVEE_CORS_ORIGINS": "https://www.city.example/"}, "LEVEE_CORS_ORIGINS"),
    ({"LEVEE_PUBLIC_URL": "ftp://levee.city.example"}, "LEVEE_PUBLIC_URL"),
    ({"LEVEE_PUBLIC_URL": "https://city.example/levee"}, "LEVEE_PUBLIC_URL"),
    ({"LEVEE_PUBLIC_URL": "https://levee.example?x=1"}, "LEVEE_PUBLIC_URL"),
    ({"LEVEE_PUBLIC_URL": "https://user:pw@levee.example"}, "LEVEE_PUBLIC_URL"),
    ({"LEVEE_PUBLIC_URL": "https://levee.example?"}, "LEVEE_PUBLIC_URL"),
]


@pytest.mark.parametrize(("environ", "variable"), BAD)
def test_bad_setting_fails_naming_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("environ", "is_tty", "expected"),
    [
        ({}, True, "console"),
        ({}, False, "json"),
        ({"LEVEE_LOG_FORMAT": "json"}, True, "json"),
        ({"LEVEE_LOG_FORMAT": "console"}, False, "console"),
    ],
)
def test_log_format_follows_the_terminal_unless_set(
    environ: dict[str, str], is_tty: bool, expected: str
) -> None:
    assert Settings.from_env(environ, is_tty=is_tty).log_format == expected


REFERENCE = Path(events.reference.__file__).with_name("levee.toml")
RULES = Path(services.triage.__file__).with_name("rules.toml")
ROUTING = Path(services.dispatch.__file__).with_name("routing.toml")


def test_settings_survive_the_trip_through_a_child_environment() -> None:
    settings = Settings.from_env(
        {"NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/levee",
         "LEVEE_HTTP_PORT": "9001", "LEVEE_LOG_FORMAT": "console", "LEVEE_CONTACT_SECRET": SECRET,
         "LEVEE_METRICS_PORT": "9100", "LEVEE_REFERENCE": str(REFERENCE), "LEVEE_TRIAGE_RULES": str(RULES),
         "LEVEE_ROUTING": str(ROUTING),
         "LEVEE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7", "LEVEE_OPEN311_API_KEYS": "bridge-key-0123456789,app-key-abcdefghijkl",
         "LEVEE_CORS_ORIGINS": "https://www.city.example,http://localhost:3000",
         "LEVEE_RATE_LIMITS": "intake=2.5/60,personal_data=0.1/60", "LEVEE_SHARED_ADDRESSES": "100.64.0.0/10",
         "LEVEE_SHARED_ADDRESS_FACTOR": "12.5"}
    )  # fmt: skip
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.7") and len(settings.open311_api_keys) == 2
    assert settings.cors_origins == ("https://www.city.example", "http://localhost:3000")
    assert settings.rate_limits == (("intake", 2.5, 60.0), ("personal_data", 0.1, 60.0))
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("name", "value"),
    [("LEVEE_REFERENCE", "/nonexistent/levee.toml"), ("LEVEE_TRIAGE_RULES", "/nonexistent/rules.toml"),
     ("LEVEE_ROUTING", "/nonexistent/routing.toml"),
     ("LEVEE_TRUSTED_PROXIES", "10.0.0.0/8,not-an-address"), ("LEVEE_OPEN311_API_KEYS", "short")],
)  # fmt: skip
def test_deployment_files_proxies_and_keys_are_checked_at_start(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_replace_validates_again() -> None:
    with pytest.raises(SettingsError, match="LEVEE_HTTP_PORT"):
        Settings().replace(http_port=70000)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.http_port = 1  # type: ignore[misc]


def test_a_cluster_of_nats_servers_is_accepted_and_each_url_checked() -> None:
    cluster = "nats://n1:4222,nats://n2:4222,nats://n3:4222"
    assert Settings.from_env({"NATS_URL": cluster}).nats_url == cluster
    with pytest.raises(SettingsError, match="NATS_URL"):
        Settings.from_env({"NATS_URL": "nats://n1:4222,http://n2"})


def test_urls_are_logged_without_their_passwords() -> None:
    cluster = "nats://api:S3cret@nats-1:4222, nats://api:S3cret@nats-2:4222"
    assert without_passwords(cluster) == "nats://api:***@nats-1:4222,nats://api:***@nats-2:4222"
    assert without_passwords("postgresql://levee:pw@db:5432/levee") == "postgresql://levee:***@db:5432/levee"
    assert without_passwords("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert without_passwords(None) == "-"
    assert without_passwords("nats://s3cr3tToken@nats-1:4222") == "nats://***@nats-1:4222"  # token auth
    assert without_password("postgresql://levee@db/levee?password=hunter2&sslmode=require") == (
        "postgresql://levee@db/levee?password=***&sslmode=require"
    )
    assert without_password("postgresql://levee:pa,ss@db/levee") == "postgresql://levee:***@db/levee"


def test_a_crash_logs_the_command_line_without_tokens() -> None:
    from services.cli import _redacted

    args = [
        "drill",
        "typhoon",
        "--operator-token",
        "lvt_secret",
        "--rate",
        "5",
        "--command-token=lvt_x",
        "lvt_y",
    ]
    assert _redacted(args) == ["drill", "typhoon", "--operator-token", "***", "--rate", "5", "--command-token=***",
                               "***"]  # fmt: skip
