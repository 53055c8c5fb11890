"""Our faster header parser gives exactly what nats-py's own does."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from events.store import connection
from events.store.connection import LeveeNatsClient, parse_raw_headers

SAMPLES = [
    b"Nats-Stream: LEVEE_EVENTS\r\nNats-Subject: levee.ev.1\r\nNats-Sequence: 42\r\n\r\n",
    b"Levee-Topic: events.complaint:ComplaintReceived\r\nLevee-Version: 1\r\n",
    b"Name:NoSpace\r\nOther:\tTabbed\r\n",
    b"Bad Name: skipped\r\nGood: kept\r\n",
    b"\xe4\xb8\xad: non-ascii name skipped\r\nValue: \xe4\xb8\xad\xe6\x96\x87\r\n",
    b"Broken: \xff\xfe\r\nno-colon-line\r\n\r\n",
    b"Dup: first\r\nDup: second\r\n",
    b"  Padded  :  value  \r\n",
    b"",
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_parsed_headers_match_the_library(raw: bytes) -> None:
    assert LeveeNatsClient._parse_header_lines(raw) == Client._parse_header_lines(raw)


BLOCKS = [
    b"NATS/1.0\r\n" + SAMPLES[0],
    b"NATS/1.0\r\n" + SAMPLES[1] + b"\r\n",
    b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\nNats-Last-Sequence: 12\r\n\r\n",
    b"NATS/1.0 404 No Messages\r\n\r\n",
    b"NATS/1.0 408 Request Timeout\r\n\r\n",
    b"NATS/1.0 503\r\n\r\n",
    *(b"NATS/1.0\r\n" + raw + b"\r\n" for raw in SAMPLES[2:-1]),
]


@pytest.mark.parametrize("raw", BLOCKS)
async def test_raw_header_blocks_parse_like_the_library(raw: bytes) -> None:
    expected = await Client()._process_headers(raw) or {}
    assert parse_raw_headers(raw) == expected
    assert parse_raw_headers(raw) == expected  # the second time from names it has checked before


@pytest.mark.parametrize("raw", BLOCKS)
async def test_names_past_the_kept_ones_are_checked_each_time(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "_HEADER_NAMES", {})
    monkeypatch.setattr(connection, "_HEADER_NAMES_KEPT", 0)
    assert parse_raw_headers(raw) == (await Client()._process_headers(raw) or {})
    assert connection._HEADER_NAMES == {}
