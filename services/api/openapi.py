"""GET /api/openapi.json: an OpenAPI 3.1 document assembled from the modules that serve the routes.

Each routes module describes its own paths in a module-level `OPENAPI_PATHS: dict` (path -> method ->
operation) and may add shared schemas in `OPENAPI_SCHEMAS: dict`. The document walks `app.router`, finds
each handler's module and merges the fragments, so a new module's routes appear without registering
anything here; a test fails when a served route is not described.
"""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web

from services.api.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "current": {
            "type": "object",
            "description": "A staff command refused by the case's state: the case as it is now (id, status, version...)",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_REASONS = {
    400: "Malformed request", 401: "No valid token", 403: "Not allowed for this role", 404: "Not found",
    408: "The body did not arrive in time (`body_timeout`): nothing was done",
    409: "Conflicts with the current state", 413: "Body too large", 415: "Unsupported content type",
    422: "Invalid fields (each named in errors[])", 429: "Too many requests (see Retry-After)",
    503: "A dependency is unavailable, or the event store is full (`event_store_full`); nothing was stored, "
         "unless `write_unconfirmed`: then it may be (see Retry-After)",
}  # fmt: skip
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}

# Routes served by modules that predate the fragments (health.py): described here until they move.
FALLBACK_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Can this API reach NATS and PostgreSQL right now?",
            "tags": ["operations"],
            "security": [{}],
            "responses": {
                "200": {"description": "Both reachable", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "nats", "postgres", "stream_last_seq"],
                    "properties": {"status": {"const": "ok"}, "nats": {"const": "ok"}, "postgres": {"const": "ok"},
                                   "stream_last_seq": {"type": ["integer", "null"], "minimum": 0}}}}}},
                "503": {"description": _REASONS[503], "headers": _RETRY_AFTER,
                        "content": {PROBLEM_JSON: {"schema": {"type": "object"}}}},
                "500": {"description": "A stream gap: the stream ends before what the read models processed "
                        "(acknowledged data may be lost)", "content": {PROBLEM_JSON: {"schema": {"type": "object"}}}},
            },
        }
    }
}  # fmt: skip


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def problem_responses(*statuses: int) -> dict[str, Any]:
    """The problem+json responses of an operation, by status."""
    return {
        str(status): {
            "description": _REASONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _RETRY_AFTER} if status in (429, 503) else {}),
        }
        for status in statuses
    }


def with_common_refusals(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation with what the middlewares may answer any such request: 401 where a token is taken (a token
    not valid or revoked), 408 where a body is (it did not arrive in time). Only for operations answering
    problem+json: Open311's routes say their errors in the GeoReport format and document them themselves."""
    responses = operation.get("responses", {})
    if not any(PROBLEM_JSON in answer.get("content", {}) for answer in responses.values()):
        return operation
    takes_token = any(scheme for scheme in operation.get("security", [{"bearer": []}]))
    statuses = [401] * takes_token + [408] * ("requestBody" in operation)
    missing = [status for status in statuses if str(status) not in responses]
    if not missing:
        return operation
    return {**operation, "responses": {**responses, **problem_responses(*missing)}}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", serve_document, name="openapi")


async def serve_document(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app))


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    seen: set[str] = set()
    for route in app.router.routes():
        module_name = getattr(route.handler, "__module__", None)
        if module_name is None or module_name in seen:
            continue
        seen.add(module_name)
        module = sys.modules.get(module_name)
        for path, operations in getattr(module, "OPENAPI_PATHS", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    for path, operations in FALLBACK_PATHS.items():
        for method, operation in operations.items():
            paths.setdefault(path, {}).setdefault(method, operation)
    paths = {path: {m: with_common_refusals(op) for m, op in ops.items()} for path, ops in paths.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Levee API",
            "version": "1",
            "description": "Complaint intake, staff commands, Open311 GeoReport v2. Errors are RFC 9457 "
            "application/problem+json (Open311 routes use the GeoReport error array).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff token (`levee token create`).",
                }
            },
        },
    }


OPENAPI_PATHS: dict[str, Any] = {
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["operations"],
            "security": [{}],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
                "type": "object"}}}}},
        }
    }
}  # fmt: skip
