"""Free loopback ports and bounded waits for the embedded servers."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

# Below the kernel's range for outgoing connections: a port the OS hands out (bind to 0) comes from that range,
# and between choosing it and the server binding it, an outgoing connection (a NATS node dialling its routes,
# a client) may take it as its own source port ("address already in use", seen in a 3-node test cluster).
_LOW_PORTS = (10000, 32767)
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, chosen below the range outgoing connections use when the kernel says
    what that range is (else any free port the OS picks)."""
    low, high = _LOW_PORTS
    try:
        high = min(high, int(_EPHEMERAL_RANGE.read_text().split()[0]) - 1)
    except (OSError, ValueError, IndexError):
        high = 0
    for port in random.sample(range(low, high + 1), min(64, max(0, high + 1 - low))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `condition` until it holds; a bound, never an open-ended sleep."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout:.0f}s")
        time.sleep(interval)
