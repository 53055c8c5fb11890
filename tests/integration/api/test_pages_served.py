"""The pages as a resident's phone gets them (found by a review of the public pages): gzipped, and 304 when the
browser has them (on a weak connection a blank status page waited 15 s for 80 KB of uncompressed scripts and
styles, and a 304 came only for an exact strong tag), and the lookup form sent before its script loaded."""

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

    assert plain.headers["ETag"] != zipped.headers["ETag"]  # each encoding its own tag (RFC 9110, 8.8.3)

    gz = {"Accept-Encoding": "gzip"}
    for has in (
        zipped.headers["ETag"],
        "W/" + zipped.headers["ETag"],
        '"older", ' + zipped.headers["ETag"],
        "*",
    ):
        again = await client.get(path, headers={**gz, "If-None-Match": has}, auto_decompress=False)
        assert again.status == 304 and await again.read() == b"", has
        assert again.headers["ETag"] == zipped.headers["ETag"]
    other = await client.get(path, headers={**gz, "If-None-Match": '"an-older-version"'})
    assert other.status == 200
    since = await client.get(path, headers={"If-Modified-Since": zipped.headers["Last-Modified"]})
    assert since.status == 304


@pytest.mark.parametrize(("query", "to"), [("?code=LV-7K3QX9", "/status/LV-7K3QX9"),
                                           ("?code=+lv+7k3qx9%E3%80%82", "/status/lv%207k3qx9%E3%80%82")])  # fmt: skip
async def test_the_lookup_form_sent_without_its_script_goes_to_the_codes_page(
    make_client: MakeClient, query: str, to: str
) -> None:
    """With JavaScript off, or before the script loaded, the form asks /status?code=...: it showed the empty
    form again (found by a review of the public pages). The code's page normalises the code as typed."""
    client = await make_client()
    sent = await client.get(f"/status{query}", allow_redirects=False)
    assert sent.status == 302 and sent.headers["Location"] == to
    assert (await client.get("/status?code=", allow_redirects=False)).status == 200
    on_a_codes_page = await client.get(f"/status/LV-AAAAAA{query}", allow_redirects=False)
    assert on_a_codes_page.status == 302 and on_a_codes_page.headers["Location"] == to
