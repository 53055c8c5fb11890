"""The API warns at start when it listens beyond this machine without LEVEE_PUBLIC_URL (its feed's links would
follow any Host a request names): which listening hosts count as this machine only."""

from __future__ import annotations

import pytest

from services.api.app import _loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("levee.internal", False)],
)  # fmt: skip
def test_only_this_machines_addresses_are_loopback(host: str, loopback: bool) -> None:
    assert _loopback(host) is loopback
