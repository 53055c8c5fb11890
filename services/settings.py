"""The one settings object: built once from the environment at the entry point and passed down.

Nothing else in Levee reads os.environ. `to_env()` is the inverse of `from_env()`, so a launcher can hand
exactly the same settings to the processes it starts.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from events.store.stream import StreamSpec

LogFormat = Literal["json", "console"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_SECRET_CHARS = 32
# What deploy/env.example and deploy/kubernetes/secret.yaml put where a secret goes: refused in any case, so a
# deployment cannot start on a secret everyone who read the repository knows.
PLACEHOLDER = "change-me"
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_NATS_SCHEMES = {"nats", "tls", "ws", "wss"}
_POSTGRES_SCHEMES = {"postgresql", "postgres"}


class SettingsError(ValueError):
    """A setting has a value Levee cannot run with; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Levee process is configured with.

    `nats_url` / `database_url` of None mean "embedded": `levee up` starts its own server and fills them in;
    `levee serve` needs them set.
    """

    nats_url: str | None = None
    nats_stream: str = "LEVEE_EVENTS"
    stream_replicas: int = 1
    database_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Seconds a connection may stay idle, or take to send a request's headers; above a load balancer's idle
    # timeout (nginx 60 s, AWS 60 s; Google's needs more than 600), or it may reuse a connection we closed.
    http_idle_seconds: float = 75.0
    http_body_seconds: float = 30.0  # to send a request's body once its headers are in (64 KiB at most)
    # Seconds the API goes on serving after it is told to stop, unready meanwhile, so a load balancer takes it out
    # before it closes (Kubernetes removes a stopping pod's endpoints while it may still be sent requests).
    http_drain_seconds: float = 0.0
    data_dir: Path = Path(".levee")
    log_format: LogFormat = "json"
    log_level: str = "info"
    contact_hash_secret: bytes | None = None
    service_name: str = "levee"
    metrics_port: int = 0  # Prometheus /metrics of a process without HTTP (workers, projector); 0 = off
    # Deployment data files replacing the packaged ones (None: the packaged default).
    reference_file: Path | None = None  # LEVEE_REFERENCE: area, districts, categories, departments, deadlines
    triage_rules: Path | None = None  # LEVEE_TRIAGE_RULES: lexicons and weights
    routing_file: Path | None = None  # LEVEE_ROUTING: dispatch's routing table (else <data dir>/routing.toml)
    # Proxies whose X-Forwarded-For names the client (CIDRs); from anyone else the header is ignored.
    trusted_proxies: tuple[str, ...] = ()
    open311_api_keys: tuple[str, ...] = ()  # LEVEE_OPEN311_API_KEYS: what Open311 clients send as api_key
    # LEVEE_PUBLIC_URL: where the public reaches the API ("https://levee.city.example"), for the absolute links
    # and permanent ids of the Atom feed and CAP alerts. Unset: the host each request names (fine on one machine;
    # behind an ingress it is the backend's scheme, and a cached feed would carry whatever Host one client sent).
    public_url: str | None = None
    # LEVEE_CORS_ORIGINS: the origins of the city's own web forms and apps allowed to call the API from a browser
    # ("https://www.city.example,https://app.city.example"); none by default (services/api/cors.py).
    cors_origins: tuple[str, ...] = ()
    # LEVEE_RATE_LIMITS: each purpose's limit ("intake=2/60,status=1/30": a rate a second / a burst), over the
    # defaults in services/api/ratelimit.py (per address; per key for open311_key, per staff token for
    # personal_data); as (purpose, rate, burst).
    rate_limits: tuple[tuple[str, float, float], ...] = ()
    # LEVEE_SHARED_ADDRESSES: addresses many people share (a carrier's NAT, a shelter's Wi-Fi), as CIDRs; their
    # clients' intake limit is LEVEE_SHARED_ADDRESS_FACTOR times the others'.
    shared_addresses: tuple[str, ...] = ()
    shared_address_factor: float = 20.0

    def __post_init__(self) -> None:
        for server in (self.nats_url or "").split(","):  # a cluster: "nats://a:4222,nats://b:4222"
            _check_url("NATS_URL", server.strip() or None, _NATS_SCHEMES)
        _check_url("DATABASE_URL", self.database_url, _POSTGRES_SCHEMES)
        _check_url("LEVEE_PUBLIC_URL", self.public_url, {"http", "https"})
        if self.public_url is not None:
            public = urlsplit(self.public_url)
            if public.path.strip("/") or any(c in self.public_url for c in "?#@"):
                raise SettingsError(
                    f"LEVEE_PUBLIC_URL={self.public_url!r}: the origin only (https://host[:port]), without a "
                    "path, query, fragment or user"
                )
        if not _STREAM_NAME.match(self.nats_stream):
            raise SettingsError(f"LEVEE_STREAM={self.nats_stream!r}: letters, digits, '_' or '-', at most 64")
        if self.stream_replicas not in (1, 3, 5):
            raise SettingsError(
                f"LEVEE_STREAM_REPLICAS={self.stream_replicas}: 1 on one machine, 3 or 5 in a cluster"
            )
        if not self.http_host.strip():
            raise SettingsError("LEVEE_HTTP_HOST is empty")
        if not 1 <= self.http_port <= 65535:
            raise SettingsError(f"LEVEE_HTTP_PORT={self.http_port}: a port is 1..65535")
        for name, seconds in (
            ("LEVEE_HTTP_IDLE_SECONDS", self.http_idle_seconds),
            ("LEVEE_HTTP_BODY_SECONDS", self.http_body_seconds),
        ):
            if not 0 < seconds <= 3600:
                raise SettingsError(f"{name}={seconds:g}: seconds above 0, at most 3600")
        if not 0 <= self.http_drain_seconds <= 120:
            raise SettingsError(f"LEVEE_HTTP_DRAIN_SECONDS={self.http_drain_seconds:g}: 0 to 120 seconds")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"LEVEE_LOG_FORMAT={self.log_format!r}: one of {', '.join(LOG_FORMATS)}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"LEVEE_LOG_LEVEL={self.log_level!r}: one of {', '.join(LOG_LEVELS)}")
        _refuse_placeholders(self)
        if self.contact_hash_secret is not None and len(self.contact_hash_secret) < MIN_SECRET_CHARS:
            raise SettingsError(f"LEVEE_CONTACT_SECRET is too short: at least {MIN_SECRET_CHARS} characters")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(f"LEVEE_METRICS_PORT={self.metrics_port}: a port is 1..65535, or 0 for off")
        if not _SERVICE_NAME.match(self.service_name):
            raise SettingsError(f"LEVEE_SERVICE={self.service_name!r}: lower-case letters, digits, '_.-'")
        for name, path in (
            ("LEVEE_REFERENCE", self.reference_file),
            ("LEVEE_TRIAGE_RULES", self.triage_rules),
            ("LEVEE_ROUTING", self.routing_file),
        ):
            if path is not None and not path.is_file():
                raise SettingsError(f"{name}={str(path)!r}: no such file")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise SettingsError(f"LEVEE_TRUSTED_PROXIES: {cidr!r} is not an address or CIDR") from None
        for origin in self.cors_origins:
            _check_origin(origin)
        purposes = [purpose for purpose, _, _ in self.rate_limits]
        if len(set(purposes)) < len(purposes):
            raise SettingsError(f"LEVEE_RATE_LIMITS: a purpose named twice in {', '.join(purposes)}")
        for purpose, rate, burst in self.rate_limits:
            if purpose not in RATE_LIMIT_PURPOSES:
                raise SettingsError(
                    f"LEVEE_RATE_LIMITS: {purpose!r} is not one of {', '.join(RATE_LIMIT_PURPOSES)}"
                )
            if not (MIN_RATE <= rate <= 100_000 and 1 <= burst <= 1_000_000):
                raise SettingsError(
                    f"LEVEE_RATE_LIMITS: {purpose}={rate:g}/{burst:g}: a rate of at least one a day "
                    f"({MIN_RATE:.6f} a second) and a burst of at least 1"
                )
        for cidr in self.shared_addresses:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise SettingsError(f"LEVEE_SHARED_ADDRESSES: {cidr!r} is not an address or CIDR") from None
            if network.version == 6 and network.prefixlen > 64:
                # An IPv6 client is its /64 (services/api/ratelimit.py): a narrower entry would give its whole
                # /64, neighbours included, one shared bucket.
                raise SettingsError(f"LEVEE_SHARED_ADDRESSES: {cidr!r}: an IPv6 entry is a /64 or wider")
        if not 1 <= self.shared_address_factor <= 1000:
            raise SettingsError(
                f"LEVEE_SHARED_ADDRESS_FACTOR={self.shared_address_factor:g}: from 1 to 1000 times the limits"
            )
        for key in self.open311_api_keys:
            if len(key) < 16 or not key.isprintable() or " " in key:
                raise SettingsError(
                    "LEVEE_OPEN311_API_KEYS: each key at least 16 visible characters, no spaces"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, is_tty: bool = False) -> Settings:
        """Read the LEVEE_* variables (and NATS_URL, DATABASE_URL); unset or empty means the default.

        `is_tty` is whether the log stream is a terminal: it picks the log format when none is set.
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        defaults = cls()
        port = get("LEVEE_HTTP_PORT")
        replicas = get("LEVEE_STREAM_REPLICAS")
        metrics_port = get("LEVEE_METRICS_PORT")
        idle, body = get("LEVEE_HTTP_IDLE_SECONDS"), get("LEVEE_HTTP_BODY_SECONDS")
        drain = get("LEVEE_HTTP_DRAIN_SECONDS")
        factor = get("LEVEE_SHARED_ADDRESS_FACTOR")
        secret = get("LEVEE_CONTACT_SECRET")
        log_format = get("LEVEE_LOG_FORMAT") or ("console" if is_tty else "json")
        reference, rules, routing = get("LEVEE_REFERENCE"), get("LEVEE_TRIAGE_RULES"), get("LEVEE_ROUTING")
        return cls(
            nats_url=get("NATS_URL"),
            nats_stream=get("LEVEE_STREAM") or defaults.nats_stream,
            stream_replicas=_parse_int("LEVEE_STREAM_REPLICAS", replicas)
            if replicas
            else defaults.stream_replicas,
            database_url=get("DATABASE_URL"),
            http_host=get("LEVEE_HTTP_HOST") or defaults.http_host,
            http_port=_parse_port(port) if port else defaults.http_port,
            http_idle_seconds=_parse_seconds("LEVEE_HTTP_IDLE_SECONDS", idle)
            if idle
            else defaults.http_idle_seconds,
            http_body_seconds=_parse_seconds("LEVEE_HTTP_BODY_SECONDS", body)
            if body
            else defaults.http_body_seconds,
            http_drain_seconds=_parse_seconds("LEVEE_HTTP_DRAIN_SECONDS", drain)
            if drain
            else defaults.http_drain_seconds,
            data_dir=Path(get("LEVEE_DATA_DIR") or defaults.data_dir),
            log_format=log_format.lower(),  # type: ignore[arg-type]  # checked in __post_init__
            log_level=(get("LEVEE_LOG_LEVEL") or defaults.log_level).lower(),
            contact_hash_secret=secret.encode() if secret else None,
            service_name=get("LEVEE_SERVICE") or defaults.service_name,
            metrics_port=_parse_int("LEVEE_METRICS_PORT", metrics_port) if metrics_port else 0,
            reference_file=Path(reference) if reference else None,
            triage_rules=Path(rules) if rules else None,
            routing_file=Path(routing) if routing else None,
            trusted_proxies=_list(get("LEVEE_TRUSTED_PROXIES")),
            open311_api_keys=_list(get("LEVEE_OPEN311_API_KEYS")),
            public_url=(get("LEVEE_PUBLIC_URL") or "").rstrip("/") or None,
            cors_origins=tuple(_origin(o) for o in _list(get("LEVEE_CORS_ORIGINS"))),
            rate_limits=_rate_limits(get("LEVEE_RATE_LIMITS")),
            shared_addresses=_list(get("LEVEE_SHARED_ADDRESSES")),
            shared_address_factor=_parse_number("LEVEE_SHARED_ADDRESS_FACTOR", factor)
            if factor
            else defaults.shared_address_factor,
        )

    def to_env(self) -> dict[str, str]:
        """The variables that make `from_env` build these settings again (for child processes)."""
        env = {
            "LEVEE_STREAM": self.nats_stream,
            "LEVEE_STREAM_REPLICAS": str(self.stream_replicas),
            "LEVEE_HTTP_HOST": self.http_host,
            "LEVEE_HTTP_PORT": str(self.http_port),
            "LEVEE_HTTP_IDLE_SECONDS": f"{self.http_idle_seconds:g}",
            "LEVEE_HTTP_BODY_SECONDS": f"{self.http_body_seconds:g}",
            "LEVEE_HTTP_DRAIN_SECONDS": f"{self.http_drain_seconds:g}",
            "LEVEE_DATA_DIR": str(self.data_dir),
            "LEVEE_LOG_FORMAT": self.log_format,
            "LEVEE_LOG_LEVEL": self.log_level,
            "LEVEE_SERVICE": self.service_name,
            "LEVEE_METRICS_PORT": str(self.metrics_port),
        }
        if self.nats_url:
            env["NATS_URL"] = self.nats_url
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.contact_hash_secret:
            env["LEVEE_CONTACT_SECRET"] = self.contact_hash_secret.decode()
        if self.reference_file:
            env["LEVEE_REFERENCE"] = str(self.reference_file)
        if self.triage_rules:
            env["LEVEE_TRIAGE_RULES"] = str(self.triage_rules)
        if self.routing_file:
            env["LEVEE_ROUTING"] = str(self.routing_file)
        if self.trusted_proxies:
            env["LEVEE_TRUSTED_PROXIES"] = ",".join(self.trusted_proxies)
        if self.open311_api_keys:
            env["LEVEE_OPEN311_API_KEYS"] = ",".join(self.open311_api_keys)
        if self.public_url:
            env["LEVEE_PUBLIC_URL"] = self.public_url
        if self.cors_origins:
            env["LEVEE_CORS_ORIGINS"] = ",".join(self.cors_origins)
        if self.rate_limits:
            env["LEVEE_RATE_LIMITS"] = ",".join(f"{p}={r!r}/{b!r}" for p, r, b in self.rate_limits)
        if self.shared_addresses:
            env["LEVEE_SHARED_ADDRESSES"] = ",".join(self.shared_addresses)
            env["LEVEE_SHARED_ADDRESS_FACTOR"] = repr(self.shared_address_factor)
        return env

    def replace(self, **changes: object) -> Settings:
        """A copy with `changes` applied and validated again (command-line flags override the environment)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def stream_spec(self) -> StreamSpec:
        return StreamSpec(name=self.nats_stream, replicas=self.stream_replicas)

    @property
    def base_url(self) -> str:
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"


def _refuse_placeholders(settings: Settings) -> None:
    """A secret, or a password in a URL, still holding the shipped placeholder stops the process, saying which
    (never the value)."""
    secret = (settings.contact_hash_secret or b"").decode("utf-8", "replace")
    if _is_placeholder(secret):
        raise SettingsError(
            f"LEVEE_CONTACT_SECRET is still the placeholder (it contains {PLACEHOLDER!r}): set a random secret of "
            f"at least {MIN_SECRET_CHARS} characters: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if any(_is_placeholder(key) for key in settings.open311_api_keys):
        raise SettingsError(
            f"LEVEE_OPEN311_API_KEYS: a key is still a placeholder (it contains {PLACEHOLDER!r})"
        )
    if _is_placeholder(_url_password(settings.database_url)):
        raise SettingsError(
            f"DATABASE_URL: the password is still a placeholder (it contains {PLACEHOLDER!r}): set the database's "
            "real password (POSTGRES_PASSWORD in deploy/.env; DATABASE_URL in the levee-database Secret)"
        )
    for server in (settings.nats_url or "").split(","):
        if _is_placeholder(_url_password(server.strip() or None, token_as_user=True)):
            parts = urlsplit(server.strip())
            if parts.password is None:  # nats://TOKEN@host: the user is the secret, not to be shown
                raise SettingsError(f"NATS_URL: a token is still a placeholder (it contains {PLACEHOLDER!r})")
            user = parts.username or ""
            raise SettingsError(
                f"NATS_URL: the password of NATS user {user!r} is still a placeholder (it contains "
                f"{PLACEHOLDER!r}): set LEVEE_NATS_{user.upper()}_PASSWORD to a real one, for the NATS servers "
                "and this service alike: python -c 'import secrets; print(secrets.token_hex(32))'"
            )


def _is_placeholder(value: str | None) -> bool:
    return value is not None and PLACEHOLDER in value.lower()


def _url_password(url: str | None, *, token_as_user: bool = False) -> str | None:
    """The secret a URL carries: its password (or a `password=` query parameter), or with `token_as_user`
    a NATS token given as the user (`nats://TOKEN@host`). Only called on URLs `_check_url` accepted."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.password is not None:
        return unquote(parts.password)
    if (query := parse_qs(parts.query).get("password")) is not None:
        return query[0]
    return unquote(parts.username) if token_as_user and parts.username is not None else None


def _origin(text: str) -> str:
    """An origin as a browser sends it in its Origin header: scheme and host in lower case, the host in punycode,
    no default port ("https://WWW.City.Example:443" -> "https://www.city.example"); anything else as it is, for
    `_check_origin` to refuse."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username or parts.path or parts.query \
            or parts.fragment or text.endswith(("?", "#")):  # fmt: skip
        return text
    try:
        host = (
            host.encode("idna").decode("ascii")
            if not host.startswith("[") and ":" not in host
            else f"[{host}]"
        )
    except UnicodeError:
        return text
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _check_origin(origin: str) -> None:
    problem = None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        parts, port, problem = None, None, "its port is not a number from 1 to 65535"
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "it must start with https:// (or http:// for a development machine)"
        elif not parts.hostname:
            problem = "it has no host"
        elif parts.username or parts.password:
            problem = "it must not name a user"
        elif parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
            problem = "an origin has no path, query or fragment (and no trailing /)"
        elif port == 0:
            problem = "its port is not a number from 1 to 65535"
        elif origin != _origin(origin):
            problem = f"a browser sends it as {_origin(origin)!r}"
    if problem:
        raise SettingsError(f"LEVEE_CORS_ORIGINS: {origin!r} is not an origin: {problem}")


def _list(text: str | None) -> tuple[str, ...]:
    """A comma-separated variable: its non-empty items, trimmed."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


# What LEVEE_RATE_LIMITS may set: intake (the JSON API and Open311 without a key), status lookups, Open311's
# public lists, each Open311 api_key, and each staff token's openings of contact details.
RATE_LIMIT_PURPOSES = ("intake", "status", "listing", "open311_key", "personal_data")
MIN_RATE = 1 / 86_400  # one a day: below it a Retry-After overflows


def _rate_limits(text: str | None) -> tuple[tuple[str, float, float], ...]:
    """`intake=2/60, status=1/30` -> (("intake", 2.0, 60.0), ("status", 1.0, 30.0)); checked in __post_init__."""
    limits = []
    for item in _list(text):
        purpose, _, value = item.partition("=")
        rate, _, burst = value.partition("/")
        try:
            limits.append((purpose.strip(), float(rate), float(burst)))
        except ValueError:
            raise SettingsError(
                f"LEVEE_RATE_LIMITS: {item!r} is not PURPOSE=RATE/BURST (e.g. intake=2/60: 2 a second, 60 at once)"
            ) from None
    return tuple(limits)


def _parse_number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: not a number") from None


def _parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: not a whole number") from None


def _parse_seconds(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: not a number of seconds") from None


def _parse_port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"LEVEE_HTTP_PORT={text!r}: not a number") from None


def _check_url(name: str, url: str | None, schemes: set[str]) -> None:
    """One URL with one of `schemes` and a host (a NATS client finds a cluster's other servers itself)."""
    if url is None:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError as exc:
        raise SettingsError(f"{name}={url!r}: {exc}") from None
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(sorted(f"{s}://" for s in schemes))
        raise SettingsError(f"{name}={url!r}: expected {wanted}HOST[:PORT]")


def without_passwords(urls: str | None) -> str:
    """A NATS URL, or a cluster's comma-separated list of them, fit for a log line: each password as "***"."""
    if not urls:
        return "-"
    return ",".join(without_password(url.strip()) for url in urls.split(","))


def without_password(url: str | None) -> str:
    """One URL (a comma in it is part of it: a PostgreSQL password may hold one), its password as "***"."""
    if not url:
        return "-"
    try:
        parts = urlsplit(url)
        password, user = parts.password, parts.username
    except ValueError:
        return "***"  # not a URL we can read: nothing of it is logged
    netloc = parts.netloc
    if password is not None:
        netloc = netloc.replace(f":{password}@", ":***@", 1)
    elif user is not None and parts.scheme in _NATS_SCHEMES:
        netloc = netloc.replace(f"{user}@", "***@", 1)  # nats://<token>@host: the name is the secret
    query = re.sub(r"(?i)(^|&)(password|sslpassword)=[^&]*", r"\1\2=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
