"""/openapi.json as the gateway really behaves, not as FastAPI would guess.

FastAPI documents a 422 `HTTPValidationError` on every route with parameters. On /admin the 422 body
is the gateway's `{"error", "code", "detail"}` (`detail` naming each field); /api never answers 422
for a malformed request (it uses FaceCheck's envelope with BAD_REQUEST). Authentication is done by
dependencies that read the headers themselves, so the security schemes are declared here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/"


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every non-/api error: a message, a stable code, and for 422 the problem with each field."""

    error: str
    code: str
    detail: list[FieldProblem] | None = None


SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization",
               "description": "A tenant key, raw as FaceCheck clients send it, or `Bearer <key>` (or X-API-Key)"},
    "AdminToken": {"type": "http", "scheme": "bearer",
                   "description": "ADMIN_TOKEN, or a tenant key with the `admin` scope"},
}  # fmt: skip


# The failures every admin route can answer with, as documented statuses.
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A request the service refuses (BAD_REQUEST)"},
    401: {"description": "Missing or invalid admin token (INVALID_TOKEN)"},
    403: {"description": "A key without the admin scope (FORBIDDEN)"},
    404: {"description": "Unknown tenant or key (NOT_FOUND)"},
    422: {"description": "Invalid request; `detail` names each field (VALIDATION_ERROR)"},
    429: {"description": "Too many failed authentications (RATE_LIMITED)"},
}


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    error_body = ErrorBody.model_json_schema(ref_template=_REF + "{model}")
    schemas.update(error_body.pop("$defs", {}))
    schemas["ErrorBody"] = error_body
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    spec["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if path.startswith("/admin"):
                operation["security"] = [{"AdminToken": []}]
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = _error_content()
                responses.setdefault("422", {"description": "Invalid request; `detail` names each field"})
                responses["422"]["content"] = _error_content()
            elif path.startswith("/api"):
                operation["security"] = [{"ApiKey": []}]
                responses.pop("422", None)
    app.openapi_schema = spec
    return spec
