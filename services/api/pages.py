"""The staff and public pages: plain HTML, CSS and JavaScript files served as they are (no build step).

The pages hold no data: each one fetches the JSON endpoints with the token its user pasted (kept in the
tab's sessionStorage only). A strict Content-Security-Policy keeps every script, style, font and request
on this origin: no CDN, no tile server, no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

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


def _page(name: str) -> Any:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            STATIC / name, headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
        )

    serve.__name__ = f"page_{name.removesuffix('.html')}"
    return serve


async def asset(request: web.Request) -> web.FileResponse:
    """Only files that are in static/ itself, by exact name: no directory walking."""
    name = request.match_info["name"]
    if name not in _assets() or name.endswith(".html"):
        raise web.HTTPNotFound(text=f"no asset {name!r}")
    content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
    return web.FileResponse(
        STATIC / name, headers={**SECURITY_HEADERS, "Content-Type": f"{content_type}; charset=utf-8"}
    )


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
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    }}  # fmt: skip


OPENAPI_PATHS: dict[str, Any] = {
    "/": {"get": {"operationId": "page_index", "summary": "Redirects to /status", "tags": ["pages"],
                  "security": [{}], "responses": {"302": {"description": "To /status"}}}},
    "/board": _html("board", "The live command board (command token)"),
    "/department": _html("department", "A department's queue with accept, return and resolve"),
    "/press": _html("press", "Draft notices, see approval, publish"),
    "/reports": _html("reports", "The after-action summary and its CSV"),
    "/status": _html("status", "Look up a complaint by tracking code; published notices"),
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
        "responses": {"200": {"description": "A file"}, "404": {"description": "No such file"}}}},
}  # fmt: skip
