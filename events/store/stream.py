"""The one stream that is Levee's system of record, and how its subjects are named."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS

DEFAULT_STREAM = "LEVEE_EVENTS"
DUPLICATE_WINDOW_NS = 5 * 60 * 1_000_000_000  # five minutes


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream name and the subject prefix it owns (`<prefix>.ev.<aggregate_id>`, `<prefix>.track.<name>`,
    `<prefix>.code.<tracking code>`, ...).

    Two streams cannot share subjects, so a stream other than the default gets a prefix of its own:
    a fresh stream name is a fresh, separate store.
    """

    name: str = DEFAULT_STREAM
    replicas: int = 1

    @property
    def prefix(self) -> str:
        return "levee" if self.name == DEFAULT_STREAM else self.name.lower()

    @property
    def events_filter(self) -> str:
        return f"{self.prefix}.ev.>"

    def event_subject(self, aggregate_id: object) -> str:
        return f"{self.prefix}.ev.{aggregate_id}"

    def tracking_subject(self, reader: str) -> str:
        return f"{self.prefix}.track.{reader}"

    def dead_letter_subject(self, reader: str) -> str:
        return f"{self.prefix}.dlq.{reader}"

    def retry_subject(self, reader: str) -> str:
        """Where staff ask `reader` to handle one of its dead-lettered events again (services/runtime/redrive.py).

        Under `dlq.>`, so the stream's subjects already cover it, and beside the worker's own dead letters
        without being one of them: a worker may write its dead letters, the API only this."""
        return f"{self.prefix}.dlq.{reader}.retry"

    def retried_subject(self, reader: str) -> str:
        """Where `reader` records what came of a retry request (written with its tracking record)."""
        return f"{self.prefix}.dlq.{reader}.retried"

    def snapshot_subject(self, purpose: str, aggregate_id: object) -> str:
        return f"{self.prefix}.snap.{purpose}.{aggregate_id}"

    def code_subject(self, tracking_code: str) -> str:
        """Where a public tracking code is claimed: written once, with the complaint that carries it."""
        return f"{self.prefix}.code.{tracking_code}"

    @property
    def subjects(self) -> list[str]:
        return [f"{self.prefix}.{kind}.>" for kind in ("ev", "track", "dlq", "snap", "code")]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subjects": self.subjects,
            "storage": "file",
            "retention": "limits",
            "discard": "new",
            "max_msgs": -1,
            "max_bytes": -1,
            "max_age": 0,
            "max_msgs_per_subject": -1,
            "num_replicas": self.replicas,
            "duplicate_window": DUPLICATE_WINDOW_NS,
            "allow_direct": True,
            "allow_atomic": True,
            "deny_delete": True,
            "deny_purge": True,
        }


# How long a service waits for its request to add subjects to an older stream. No service's NATS user may
# update the stream (services/embedded/nats_permissions.py): nats-server drops the request and tells only the
# client's error callback, so no answer ever comes. Bounded, so a service fails fast with StreamNeedsUpgrade.
UPDATE_SECONDS = 5.0
UPGRADE_COMMAND = "levee stream upgrade"


class StreamConfigError(RuntimeError):
    pass


class StreamNeedsUpgrade(StreamConfigError):
    """The stream predates subjects this version of Levee writes, and this connection could not add them."""

    def __init__(self, stream: str, missing: list[str], reason: str) -> None:
        super().__init__(
            f"stream {stream} lacks the subjects {', '.join(missing)} that this version of Levee writes, and this "
            f"NATS user could not add them ({reason}). Run `{UPGRADE_COMMAND}` once with the NATS admin user's "
            "credentials in NATS_URL (docs/operations.md, section 6). Until then this service cannot use the "
            "stream: the API answers 503 and retries by itself, the workers and the projector exit and are restarted"
        )
        self.stream = stream
        self.missing = missing
        self.reason = reason


async def ensure_stream(nc: NATS, spec: StreamSpec, timeout: float = 10.0) -> dict[str, Any]:
    """Create the stream, or check that the existing one keeps the guarantees we rely on.

    Raw JSON API: nats-py's StreamConfig does not know `allow_atomic` yet. An older deployment's stream that
    lacks some of `spec.subjects` gets them added when this user may (`levee up`, the admin user); otherwise
    StreamNeedsUpgrade, within UPDATE_SECONDS, names them and the admin step.
    """
    wanted = spec.config()
    reply = await nc.request(
        f"$JS.API.STREAM.CREATE.{spec.name}", json.dumps(wanted).encode(), timeout=timeout
    )
    body: dict[str, Any] = json.loads(reply.data)
    error = body.get("error")
    if error and error.get("err_code") == 10058:  # already exists with a different config
        reply = await nc.request(f"$JS.API.STREAM.INFO.{spec.name}", b"", timeout=timeout)
        body = json.loads(reply.data)
        error = body.get("error")
    if error:
        raise StreamConfigError(f"stream {spec.name}: {error.get('description')}")
    config = body["config"]
    if missing_subjects(spec, config):
        body = await add_missing_subjects(nc, spec, config, timeout=min(timeout, UPDATE_SECONDS))
        config = body["config"]
    for key in ("allow_direct", "allow_atomic", "deny_delete", "deny_purge"):
        if not config.get(key):
            raise StreamConfigError(f"stream {spec.name} exists without {key}: refusing to use it")
    return body


def missing_subjects(spec: StreamSpec, config: dict[str, Any]) -> list[str]:
    """The subjects this version writes that the stream's config does not list."""
    return [s for s in spec.subjects if s not in config.get("subjects", [])]


async def add_missing_subjects(
    nc: NATS, spec: StreamSpec, config: dict[str, Any], *, timeout: float
) -> dict[str, Any]:
    """Add the missing subjects to the stream, keeping everything else of its config; the updated stream info.

    Raises StreamNeedsUpgrade when the server refuses or does not answer within `timeout` (a user without
    `$JS.API.STREAM.UPDATE` gets no answer at all, only a permissions violation on its error callback).
    """
    missing = missing_subjects(spec, config)
    updated = {**config, "subjects": [*config.get("subjects", []), *missing]}
    try:
        reply = await nc.request(
            f"$JS.API.STREAM.UPDATE.{spec.name}", json.dumps(updated).encode(), timeout=timeout
        )
    except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
        reason = f"no answer to $JS.API.STREAM.UPDATE.{spec.name} within {timeout:g} s: not permitted?"
        raise StreamNeedsUpgrade(spec.name, missing, reason) from None
    body: dict[str, Any] = json.loads(reply.data)
    if error := body.get("error"):
        raise StreamNeedsUpgrade(spec.name, missing, f"refused: {error.get('description')}")
    return body
