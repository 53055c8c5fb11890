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

# Ports this process has handed out. A port is free until its server binds it, and servers are often chosen
# together and launched after (a cluster's nine ports): without this, two of them could get the same port,
# and one node would exit with "address already in use" (a CI run saw a test cluster's node exit so).
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, chosen below the range outgoing connections use when the kernel says
    what that range is (else any free port the OS picks)."""
    low, high = _LOW_PORTS
    try:
        high = min(high, int(_EPHEMERAL_RANGE.read_text().split()[0]) - 1)
    except (OSError, ValueError, IndexError):
        high = 0
    if len(_handed_out) > max(high - low, 20_000) // 2:
        _handed_out.clear()  # a long-lived process: the early ones' servers are long gone
    for port in random.sample(range(low, high + 1), min(64, max(0, high + 1 - low))):
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    for _ in range(64):  # the OS's choice, unless this process handed it out already
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            break
    _handed_out.add(port)
    return port


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
