"""The one stream that is Levee's system of record, and how its subjects are named."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


class StreamConfigError(RuntimeError):
    pass


async def ensure_stream(nc: NATS, spec: StreamSpec, timeout: float = 10.0) -> dict[str, Any]:
    """Create the stream, or check that the existing one keeps the guarantees we rely on.

    Raw JSON API: nats-py's StreamConfig does not know `allow_atomic` yet.
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
    missing = [s for s in spec.subjects if s not in config.get("subjects", [])]
    if missing:  # an older deployment's stream: add the subjects, keep everything else as it is
        updated = {**config, "subjects": [*config.get("subjects", []), *missing]}
        reply = await nc.request(
            f"$JS.API.STREAM.UPDATE.{spec.name}", json.dumps(updated).encode(), timeout=timeout
        )
        body = json.loads(reply.data)
        if body.get("error"):
            raise StreamConfigError(f"stream {spec.name}: {body['error'].get('description')}")
        config = body["config"]
    for key in ("allow_direct", "allow_atomic", "deny_delete", "deny_purge"):
        if not config.get(key):
            raise StreamConfigError(f"stream {spec.name} exists without {key}: refusing to use it")
    return body
