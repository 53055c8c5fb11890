"""Three nats-server nodes routed to each other on loopback, started together and always stopped."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from services.embedded.nats_server import NatsServer
from tests.support.waiting import wait_until_async


def route_url(node: NatsServer, credentials: tuple[str, str] | None = None) -> str:
    """`node`'s cluster port as a route; a node whose cluster requires a user needs `user:password@` in it."""
    user_info = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
    return f"nats-route://{user_info}{node.host}:{node.cluster_port}"


def peers(node: NatsServer) -> set[str]:
    """The server names `node` has routes to now, from its monitoring endpoint."""
    with urllib.request.urlopen(node.monitor_url + "/routez", timeout=2) as response:
        return {route["remote_name"] for route in json.loads(response.read())["routes"]}


def stream_leader(node: NatsServer, stream: str) -> str | None:
    """The server name leading `stream` as `node` sees it now, from its monitoring endpoint; None while no
    leader is known there (an election under way) or `node` holds no replica of it."""
    with urllib.request.urlopen(node.monitor_url + "/jsz?streams=true", timeout=5) as response:
        jsz = json.loads(response.read())
    for account in jsz.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail["name"] == stream:
                return (detail.get("cluster") or {}).get("leader") or None
    return None


async def wait_for_stream_leader(
    node: NatsServer, stream: str, *, other_than: str | None = None, bound: float = 30.0
) -> str:
    """The leader of `stream` as `node` sees it, once it knows one (and, given `other_than`, a different one:
    after that leader died, its followers forget it only once they start an election)."""
    seen: str | None = None

    async def elected() -> bool:
        nonlocal seen
        # The monitoring call blocks: off the event loop, so a test's load carries on while this polls.
        seen = await asyncio.to_thread(stream_leader, node, stream)
        return seen is not None and seen != other_than

    await wait_until_async(
        elected, f"a leader of {stream} (other than {other_than}) on {node.server_name}", bound
    )
    assert seen is not None
    return seen


async def wait_for_agreed_leader(nodes: list[NatsServer], stream: str, *, bound: float = 30.0) -> str:
    """The leader of `stream` once every node in `nodes` names the same one. Right after the stream is made,
    one node may know its leader while another's replica has not yet joined the group (and says None)."""
    seen: set[str | None] = set()

    async def agreed() -> bool:
        nonlocal seen
        seen = {await asyncio.to_thread(stream_leader, node, stream) for node in nodes}
        return len(seen) == 1 and None not in seen

    await wait_until_async(agreed, f"every node naming one leader of {stream}", bound)
    [leader] = seen
    assert leader is not None
    return leader


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
