"""Three nats-server nodes routed to each other on loopback, started together and always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.embedded.nats_server import NatsServer


@contextmanager
def running_cluster(nodes: list[NatsServer], *, timeout: float = 60) -> Iterator[list[NatsServer]]:
    """Route every node to the others, launch them all, wait until each is ready; stop them all after."""
    for node in nodes:
        node.routes = [f"nats-route://127.0.0.1:{other.cluster_port}" for other in nodes if other is not node]
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.wait_ready(timeout=timeout)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
