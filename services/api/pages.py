"""The staff and public pages: plain HTML, CSS and JavaScript files served as they are (no build step).

The pages hold no data: each one fetches the JSON endpoints with the token its user pasted (kept in the
tab's sessionStorage only). A strict Content-Security-Policy keeps every script, style, font and request
on this origin: no CDN, no tile server, no inline script.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.helpers import ETAG_ANY

from services.api.gzip_coding import takes_gzip

STATIC = Path(__file__).parent / "static"
PAGES = {
    "/board": "board.html",
    "/department": "department.html",
    "/press": "press.html",
    "/reports": "reports.html",
    "/status": "status.html",
    "/status/{tracking_code}": "status.html",
}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # /status/<tracking code> must not leak to other sites
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class _File:
    """A static file as it is sent: its bytes, gzipped once, the content's tag and when it was last changed."""

    raw: bytes
    gzipped: bytes
    tag: str
    modified: datetime


@functools.lru_cache(maxsize=64)
def _read(path: Path, modified_ns: int) -> _File:
    """Read and gzipped once per version of the file (its mtime is in the key): a page's files are about 80 KB,
    30 KB gzipped, which on a weak phone connection (50 kbit/s) is about 13 s of transfer against 5 (found by a
    review of the public pages)."""
    raw = path.read_bytes()
    modified = datetime.fromtimestamp(modified_ns // 1_000_000_000, UTC)
    return _File(raw, gzip.compress(raw, 9, mtime=0), hashlib.sha256(raw).hexdigest()[:32], modified)


def _send(request: web.Request, path: Path, content_type: str) -> web.Response:
    """`path` with the pages' headers: gzipped to a client that takes it, 304 to one that has this version
    (If-None-Match compared weakly, `*` included, as RFC 9110 has it; else If-Modified-Since). Each encoding
    has its own ETag. Cache-Control stays no-cache: a browser asks again each time (an upgrade's new script is
    never mixed with an old page), and an unchanged file costs it a 304 of no body."""
    file = _read(path, path.stat().st_mtime_ns)
    zipped = takes_gzip(request.headers.get("Accept-Encoding", ""))
    etag = f"{file.tag}-gz" if zipped else file.tag
    headers = {**SECURITY_HEADERS, "ETag": f'"{etag}"', "Vary": "Accept-Encoding",
               "Last-Modified": format_datetime(file.modified, usegmt=True)}  # fmt: skip
    if _not_modified(request, etag, file.modified):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = f"{content_type}; charset=utf-8"
    if zipped:
        return web.Response(body=file.gzipped, headers={**headers, "Content-Encoding": "gzip"})
    return web.Response(body=file.raw, headers=headers)


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    tags = request.if_none_match
    if tags is not None:  # when sent, it alone decides (RFC 9110, 13.2.2)
        return any(tag.value in (etag, ETAG_ANY) for tag in tags)
    since = request.if_modified_since
    return since is not None and modified <= since


def _page(name: str) -> Any:
    async def serve(request: web.Request) -> web.Response:
        code = request.query.get("code", "").strip() if name == "status.html" else ""
        # The lookup form sent before its script loaded (or with JavaScript off): to the code's page.
        if code:
            raise web.HTTPFound(f"/status/{quote(code[:64], safe='')}")
        return _send(request, STATIC / name, "text/html")

    serve.__name__ = f"page_{name.removesuffix('.html')}"
    return serve


async def asset(request: web.Request) -> web.Response:
    """Only files that are in static/ itself, by exact name: no directory walking."""
    name = request.match_info["name"]
    if name not in _assets() or name.endswith(".html"):
        raise web.HTTPNotFound(text=f"no asset {name!r}")
    return _send(request, STATIC / name, CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"))


def _assets() -> frozenset[str]:
    return frozenset(p.name for p in STATIC.iterdir() if p.is_file())


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/status")


async def status_slash(request: web.Request) -> web.StreamResponse:
    """/status/<code>/: an SMS app's link often ends in a slash; the page is at the code itself."""
    raise web.HTTPMovedPermanently(f"/status/{request.match_info['tracking_code']}")


def add_routes(app: web.Application) -> None:
    for path, name in PAGES.items():
        app.router.add_get(path, _page(name))
    app.router.add_get("/static/{name}", asset, name="static")
    app.router.add_get("/status/{tracking_code}/", status_slash)
    app.router.add_get("/", index)


def _html(page: str, summary: str, *, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {
        "operationId": f"page_{page}", "summary": summary, "tags": ["pages"],
        "security": [{}], "parameters": params or [],
        "responses": {"200": {"description": "HTML page (data is fetched by its script with the user's token)",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "304": {"description": "Not modified: the ETag the browser sent in If-None-Match"}},
    }}  # fmt: skip


OPENAPI_PATHS: dict[str, Any] = {
    "/": {"get": {"operationId": "page_index", "summary": "Redirects to /status", "tags": ["pages"],
                  "security": [{}], "responses": {"302": {"description": "To /status"}}}},
    "/board": _html("board", "The live command board (command token)"),
    "/department": _html("department", "A department's queue with accept, return and resolve"),
    "/press": _html("press", "Draft notices, see approval, publish"),
    "/reports": _html("reports", "The after-action summary and its CSV"),
    "/status": {"get": {
        **_html("status", "Look up a complaint by tracking code; published notices")["get"],
        "parameters": [{"name": "code", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "A tracking code, as the lookup form sends it: redirected to its page"}],
        "responses": {**_html("status", "")["get"]["responses"],
                      "302": {"description": "To /status/{code}, when a code was given"}}}},
    "/status/{tracking_code}": _html(
        "status_code", "Status of one complaint (public)",
        params=[{"name": "tracking_code", "in": "path", "required": True, "schema": {"type": "string"}}]),
    "/status/{tracking_code}/": {"get": {
        "operationId": "page_status_code_slash", "summary": "Redirects to /status/{tracking_code}",
        "tags": ["pages"], "security": [{}],
        "parameters": [{"name": "tracking_code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"301": {"description": "To the page without the slash"}}}},
    "/static/{name}": {"get": {
        "operationId": "static_asset", "summary": "The pages' scripts and styles", "tags": ["pages"],
        "security": [{}],
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "A file (gzipped to a client that takes it)"},
                      "304": {"description": "Not modified: the ETag the browser sent in If-None-Match"},
                      "404": {"description": "No such file"}}}},
}  # fmt: skip
