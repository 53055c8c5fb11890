"""Which NATS subjects each Levee process may publish to: least privilege, rendered as nats-server config.

Every service may read the stream (direct get, stream info) and get replies on its inbox; the workers and the
projector may also read it through an ephemeral consumer of their own. Writers may append events; each
worker may move only its own tracking and dead-letter subjects (and record what came of a retry request), and
dispatch and notices keep a fold of theirs on a shelf; the API may ask each worker to retry a dead letter
(`<prefix>.dlq.<worker>.retry`) and nothing else of theirs; the projector and the board read only. A leaked API credential therefore cannot rewind a worker's
position or forge its dead letters or their outcomes.

`deploy/nats/auth.conf` is `auth_conf()` committed (a test keeps them equal); regenerate it with
`python -m services.embedded.nats_permissions > deploy/nats/auth.conf`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from events.store.connection import inbox_prefix
from events.store.shelf import bucket_name
from events.store.stream import StreamSpec
from services.runtime.tracking import WORKERS

SHELVING_WORKERS = ("dispatch", "notices")  # the workers that keep a fold on a shelf


def publish_permissions(spec: StreamSpec) -> dict[str, list[str]]:
    """Allowed publish subjects per service user."""
    read = [
        f"$JS.API.DIRECT.GET.{spec.name}",
        f"$JS.API.DIRECT.GET.{spec.name}.>",
        f"$JS.API.STREAM.INFO.{spec.name}",
        f"$JS.API.STREAM.CREATE.{spec.name}",  # idempotent with the same config; a different one is refused
    ]
    # Not `$JS.API.STREAM.UPDATE`: a service that meets an older stream lacking a subject stops with
    # StreamNeedsUpgrade, and an operator adds it as admin (`levee stream upgrade`). Nor `$JS.API.INFO`
    # (account info): nothing of Levee asks it.
    # Readers of the whole stream in order (workers, the projector) do it through an ephemeral consumer of
    # their own (events/store/cursor.py): make it, pull from it, delete it. Nothing else of consumers.
    consume = [
        f"$JS.API.CONSUMER.CREATE.{spec.name}",
        f"$JS.API.CONSUMER.MSG.NEXT.{spec.name}.*",
        f"$JS.API.CONSUMER.DELETE.{spec.name}.*",
    ]
    events = f"{spec.prefix}.ev.>"
    # The shelves of dispatch and notices (events/store/shelf.py): the bucket made if missing (the one who makes
    # it sets its config: a shelf refuses one with rollups or transforms), and its own keys written and read.
    bucket = bucket_name(spec)
    shelves = {
        worker: [
            f"$JS.API.STREAM.CREATE.KV_{bucket}", f"$JS.API.STREAM.INFO.KV_{bucket}", f"$KV.{bucket}.{worker}.>",
            f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{worker}.>",
        ]
        for worker in SHELVING_WORKERS
    }  # fmt: skip

    allowed = {
        # A complaint claims its tracking code; command staff ask workers to retry dead letters.
        "api": [*read, events, f"{spec.prefix}.code.>", *(spec.retry_subject(w) for w in WORKERS)],
        "projector": [*read, *consume],
        "admin": [">"],
    }
    for worker in WORKERS:
        allowed[worker] = [
            *read, *consume, events, spec.tracking_subject(worker), spec.dead_letter_subject(worker),
            spec.retried_subject(worker), *shelves.get(worker, ()),
        ]  # fmt: skip
    return allowed


def permissions(spec: StreamSpec) -> dict[str, dict[str, Any]]:
    """The full nats-server `permissions` map per user: publish as above, subscribe to its own replies only
    (`inbox_prefix`: with one `_INBOX.>` for all, any service could read the others' replies, dispatch's shelf
    among them, found by a review)."""
    return {
        user: {
            "publish": {"allow": subjects},
            "subscribe": {"allow": [f"{inbox_prefix(user)}.>"] if user != "admin" else [">"]},
        }
        for user, subjects in publish_permissions(spec).items()
    }


def password_variable(user: str) -> str:
    """The environment variable that holds `user`'s password in the deployment files."""
    return f"LEVEE_NATS_{user.upper()}_PASSWORD"


def authorization_block(spec: StreamSpec, passwords: Mapping[str, str]) -> str:
    """An `authorization { users: [...] }` block for nats-server; `passwords` maps user -> password."""
    return _render(spec, lambda user: json.dumps(passwords[user]) if user in passwords else None)


def authorization_block_from_env(spec: StreamSpec) -> str:
    """The same block for every user, each password a `$LEVEE_NATS_<USER>_PASSWORD` reference.

    nats-server resolves a reference it does not define from its environment and refuses to start when the
    variable is unset, so a missing password cannot fall back to an open server.
    """
    return _render(spec, lambda user: "$" + password_variable(user))


def auth_conf(spec: StreamSpec | None = None) -> str:
    """The committed deploy/nats/auth.conf."""
    header = (
        "# Generated by `python -m services.embedded.nats_permissions > deploy/nats/auth.conf`: do not edit.\n"
        "# One user per Levee service; what each may publish is services/embedded/nats_permissions.py.\n"
        "# Passwords come from the server's environment (LEVEE_NATS_<USER>_PASSWORD); an unset one stops\n"
        "# nats-server from starting. Included by every config in this directory.\n"
    )
    return header + authorization_block_from_env(spec or StreamSpec())


def _render(spec: StreamSpec, password: Callable[[str], str | None]) -> str:
    users = []
    for user, allowed in permissions(spec).items():
        value = password(user)
        if value is None:
            continue
        users.append(f"    {{ user: {json.dumps(user)}, password: {value}, "
                     f"permissions: {json.dumps(allowed)} }}")  # fmt: skip
    return "authorization {\n  users: [\n" + "\n".join(users) + "\n  ]\n}\n"


if __name__ == "__main__":
    sys.stdout.write(auth_conf())
