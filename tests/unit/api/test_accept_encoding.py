"""Accept-Encoding as RFC 9110 reads it: the board and the pages' files are gzipped only for a client that takes gzip."""

from __future__ import annotations

import pytest

from services.api.gzip_coding import takes_gzip


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1.0, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # named, gzip's own weight decides
        ("deflate", False),
        ("gzip;q=bogus", False),
        ("notgzip", False),  # a substring is not a coding
    ],
)
def test_gzip_only_where_the_client_takes_it(header: str, gzip: bool) -> None:
    assert takes_gzip(header) is gzip
