"""Three nats-server nodes routed to each other on loopback, started together and always stopped."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from services.embedded.nats_server import NatsServer


def route_url(node: NatsServer, credentials: tuple[str, str] | None = None) -> str:
    """`node`'s cluster port as a route; a node whose cluster requires a user needs `user:password@` in it."""
    user_info = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
    return f"nats-route://{user_info}{node.host}:{node.cluster_port}"


def peers(node: NatsServer) -> set[str]:
    """The server names `node` has routes to now, from its monitoring endpoint."""
    with urllib.request.urlopen(node.monitor_url + "/routez", timeout=2) as response:
        return {route["remote_name"] for route in json.loads(response.read())["routes"]}


@contextmanager
def running_cluster(nodes: list[NatsServer], *, timeout: float = 60) -> Iterator[list[NatsServer]]:
    """Route every node to the others, launch them all, wait until each is ready; stop them all after."""
    for node in nodes:
        node.routes = [route_url(other) for other in nodes if other is not node]
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.wait_ready(timeout=timeout)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
