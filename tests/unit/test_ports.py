"""Free ports for the embedded servers come from below the range the kernel gives outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.embedded.ports import free_port

RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not RANGE.exists(), reason="the kernel does not say its ephemeral range here")
def test_a_free_port_is_bindable_and_outside_the_range_outgoing_connections_use() -> None:
    low = int(RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(p < low for p in ports), ports  # a route's or a client's source port can never take it
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_ports_chosen_together_before_any_is_bound_are_all_different() -> None:
    # A test cluster chooses its nodes' nine ports, then launches them: two alike and one node cannot listen.
    ports = [free_port() for _ in range(3000)]
    assert len(set(ports)) == len(ports)
