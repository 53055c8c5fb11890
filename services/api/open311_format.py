"""GeoReport v2's two formats from one value: XML (the format the spec requires) and JSON (its option).

Each Open311 resource is served at `{name}.xml` and `{name}.json` by one handler (`add_both`, described by
`described_both`). The handler returns an `Answer`: the value a JSON client reads and the element an XML
document wraps it in; `to_xml` writes every resource the same way, naming a list's items from one table of
the spec's element names. Errors come back in the format asked for, with the HTTP status: the JSON array of
`{code, description}`, or `<errors><error><code/><description/></error></errors>`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api import keys
from services.api.problems import Problem

BASE = "/open311/v2"
FORMATS = ("json", "xml")
XML_TYPE = "text/xml"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# A list's items are written as this element, by the list's own element's name (the spec's examples).
ITEMS = {
    "services": "service", "attributes": "attribute", "values": "value", "service_requests": "request",
    "errors": "error", "endpoints": "endpoint", "formats": "format",
}  # fmt: skip
# What XML 1.0 cannot hold even escaped (control characters, lone surrogates). ElementTree would write it
# as is, and the client's parser would refuse the whole document over one character.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
NOT_FOUND = (
    "not found: GeoReport v2 here serves discovery, services, services/{service_code}, requests, "
    "requests/{service_request_id} and tokens/{token}, each as .xml or .json"
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What an Open311 handler answers: `value` as JSON, or as an XML document whose element is `root`."""

    root: str
    value: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self, fmt: str) -> web.Response:
        if fmt == "xml":
            return web.Response(
                text=to_xml(self.root, self.value), status=self.status, content_type=XML_TYPE,
                charset="utf-8", headers=dict(self.headers),
            )  # fmt: skip
        return web.json_response(self.value, status=self.status, headers=dict(self.headers))


def to_xml(root: str, value: Any) -> str:
    return XML_DECLARATION + ElementTree.tostring(_element(root, value), encoding="unicode")


def _element(name: str, value: Any) -> ElementTree.Element:
    node = ElementTree.Element(name)
    if isinstance(value, Mapping):
        node.extend(_element(key, item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        node.extend(_element(ITEMS[name], item) for item in value)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:  # None is the empty element, as the spec writes a field with no value
        node.text = _NOT_XML.sub("\ufffd", str(value))
    return node


class Open311Error(Exception):
    """The spec's error answer: one {code, description} per thing wrong (`more` after the first)."""

    def __init__(
        self, status: int, description: str, headers: dict[str, str] | None = None, more: Sequence[str] = ()
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}
        self.more = tuple(more)

    def response(self, fmt: str = "json") -> web.Response:
        errors = [{"code": self.status, "description": d} for d in (self.description, *self.more)]
        return Answer("errors", errors, self.status, self.headers).response(fmt)


AnswerHandler = Callable[[web.Request], Awaitable[Answer]]


def spec_errors(handler: AnswerHandler, fmt: str = "json") -> Handler:
    """Serve what `handler` answers in `fmt`; Open311Error and the API's own refusals (413, 429, 503) become
    the spec's errors, in that format too."""

    @functools.wraps(handler)  # its name and module: the OpenAPI document finds a route's module by it
    async def wrapped(request: web.Request) -> web.Response:
        try:
            answer = await handler(request)
        except Open311Error as error:
            return error.response(fmt)
        except Problem as problem:
            return _from_problem(problem).response(fmt)
        except keys.DependencyUnavailable as exc:
            return Open311Error(503, str(exc), {"Retry-After": "5"}).response(fmt)
        except web.HTTPRequestEntityTooLarge as exc:
            return Open311Error(413, exc.text or "request body too large").response(fmt)
        return answer.response(fmt)

    return wrapped


def _from_problem(problem: Problem) -> Open311Error:
    kept = {k: v for k, v in problem.headers.items() if k == "Retry-After"}
    if problem.status in (429, 503):
        kept.setdefault("Retry-After", "5")
    detail = problem.detail
    if code := problem.extensions.get("tracking_code"):
        # An unconfirmed write: the spec's array has no other place for it, and the advice names it.
        detail += f" Its tracking_code: {code}."
    return Open311Error(problem.status, detail, kept)


def add_both(app: web.Application, method: str, path: str, handler: AnswerHandler, name: str) -> None:
    """Serve `handler` at `{path}.json` and `{path}.xml`; a GET answers HEAD too, as `add_get` has it."""
    for fmt in FORMATS:
        served = spec_errors(handler, fmt)
        resource = app.router.add_resource(f"{path}.{fmt}", name=f"{name}.{fmt}")
        if method == "GET":
            resource.add_route("HEAD", served)
        resource.add_route(method, served)


@web.middleware
async def unmatched(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path under /open311/v2/ that no route serves (404), or a method it does not take (405): the spec's
    errors, in XML when the path asks for .xml, not the API's problem+json. Served routes answer their own."""
    error = request.match_info.http_exception
    if error is None or not (request.path + "/").startswith(BASE + "/"):
        return await handler(request)
    fmt = "xml" if request.path.endswith(".xml") else "json"
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return Open311Error(
            405, f"{request.method} is not served here: {allowed}", {"Allow": allowed}
        ).response(fmt)
    return Open311Error(error.status, NOT_FOUND if error.status == 404 else error.reason).response(fmt)


# -- OpenAPI -------------------------------------------------------------------------------------------

_ERROR_ARRAY = {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
    "code": {"type": "integer"}, "description": {"type": "string"}}}}  # fmt: skip
_XML = {XML_TYPE: {"schema": {"type": "string"}}}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "GeoReport v2 error array",
            "content": {"application/json": {"schema": _ERROR_ARRAY}},
        }
        for s in statuses
    }


def described_both(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """`operation` (its JSON answers) at `{path}.json`, and at `{path}.xml` with every answer an XML document
    (a string here: OpenAPI's `xml` hints cannot say the spec's element names for a list's items)."""
    xml = {
        **operation,
        "operationId": operation["operationId"] + "Xml",
        "summary": operation["summary"] + " (XML)",
        "responses": {status: {**r, "content": _XML} for status, r in operation["responses"].items()},
    }
    return {f"{path}.json": {method: operation}, f"{path}.xml": {method: xml}}
