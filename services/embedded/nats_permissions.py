"""Which NATS subjects each Levee process may publish to: least privilege, rendered as nats-server config.

Every service may read the stream (direct get, stream info) and get replies on its inbox. Writers may append
events; each worker may move only its own tracking and dead-letter subjects; the projector and the board
read only. A leaked API credential therefore cannot rewind a worker's position or forge its dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from events.store.stream import StreamSpec

WORKERS = ("triage", "dispatch", "notices")


def publish_permissions(spec: StreamSpec) -> dict[str, list[str]]:
    """Allowed publish subjects per service user."""
    read = [
        f"$JS.API.DIRECT.GET.{spec.name}",
        f"$JS.API.DIRECT.GET.{spec.name}.>",
        f"$JS.API.STREAM.INFO.{spec.name}",
        f"$JS.API.STREAM.CREATE.{spec.name}",  # idempotent with the same config; a different one is refused
        "$JS.API.INFO",
    ]
    events = f"{spec.prefix}.ev.>"
    allowed = {
        "api": [*read, events],
        "projector": [*read],
        "admin": [">"],
    }
    for worker in WORKERS:
        allowed[worker] = [*read, events, spec.tracking_subject(worker), spec.dead_letter_subject(worker)]
    return allowed


def authorization_block(spec: StreamSpec, passwords: Mapping[str, str]) -> str:
    """An `authorization { users: [...] }` block for nats-server; `passwords` maps user -> password."""
    users = []
    for user, subjects in publish_permissions(spec).items():
        if user not in passwords:
            continue
        permissions = {
            "publish": {"allow": subjects},
            "subscribe": {"allow": ["_INBOX.>"] if user != "admin" else [">"]},
        }
        users.append(f"    {{ user: {json.dumps(user)}, password: {json.dumps(passwords[user])}, "
                     f"permissions: {json.dumps(permissions)} }}")  # fmt: skip
    return "authorization {\n  users: [\n" + "\n".join(users) + "\n  ]\n}\n"
