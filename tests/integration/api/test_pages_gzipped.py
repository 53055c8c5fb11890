"""The pages' files gzipped to a browser that takes it, and 304 when it has them: a resident on a weak phone
connection waited 15 s for a blank status page while 80 KB of scripts and styles came uncompressed, one after
another, on every visit (found by a review of the public pages)."""

from __future__ import annotations

import gzip

import pytest

from services.api.pages import SECURITY_HEADERS, STATIC
from tests.integration.api.conftest import MakeClient


@pytest.mark.parametrize(("path", "file"), [("/static/common.js", "common.js"), ("/status", "status.html"),
                                            ("/static/levee.css", "levee.css")])  # fmt: skip
async def test_a_page_and_its_files_come_gzipped_and_then_from_the_browsers_cache(
    make_client: MakeClient, path: str, file: str
) -> None:
    client = await make_client()
    on_disk = (STATIC / file).read_bytes()

    zipped = await client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"}, auto_decompress=False)
    assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
    body = await zipped.read()
    assert gzip.decompress(body) == on_disk and len(body) < len(on_disk) / 2
    assert zipped.headers["Vary"] == "Accept-Encoding"
    for name, value in SECURITY_HEADERS.items():  # the pages' own policy, no-cache included
        assert zipped.headers[name] == value, name

    plain = await client.get(path, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    assert "Content-Encoding" not in plain.headers and await plain.read() == on_disk

    again = await client.get(path, headers={"If-None-Match": zipped.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    other = await client.get(path, headers={"If-None-Match": '"an-older-version"'})
    assert other.status == 200
