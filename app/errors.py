"""One error tree and its one renderer.

Every failure a client can see is a `GatewayError`: an HTTP status (used when
`API_ERROR_STATUS=http`) and a FaceCheck-style `code`. On /api the renderer writes the
FaceCheck envelope, with every key present, because official clients index them directly;
elsewhere it writes `{"error", "code", "detail"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from starlette.responses import Response

ENVELOPE_KEYS = ("id_search", "message", "progress", "error", "code", "input", "output")


class GatewayError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    default_message: ClassVar[str] = "Bad request."

    def __init__(
        self, message: str | None = None, *, headers: Mapping[str, str] | None = None, detail: Any = None
    ) -> None:
        self.message = message or self.default_message
        self.headers = dict(headers or {})
        self.detail = detail
        super().__init__(self.message)


class InvalidToken(GatewayError):
    status_code = 401
    code = "INVALID_TOKEN"
    default_message = "Invalid API token!"


class Forbidden(GatewayError):
    status_code = 403
    code = "FORBIDDEN"
    default_message = "This key may not call this endpoint."


class NotFound(GatewayError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Search request not found."


class MethodNotAllowed(GatewayError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed."


class BadRequest(GatewayError):
    status_code = 400
    code = "BAD_REQUEST"


class NoImages(GatewayError):
    status_code = 400
    code = "NO_IMAGES"
    default_message = "No images uploaded: send 1 to 3 files in the multipart field 'images'."


class TooManyImages(GatewayError):
    status_code = 400
    code = "TOO_MANY_IMAGES"
    default_message = "Too many images: send 1 to 3 files per upload."


class ValidationFailed(GatewayError):
    """A malformed /admin request; `detail` lists every problem with its field."""

    status_code = 422
    code = "VALIDATION_ERROR"


class BadImage(GatewayError):
    status_code = 422
    code = "BAD_IMAGE"
    default_message = "The file is not a readable image."


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body too large."


class HeadersTooLarge(GatewayError):
    status_code = 431
    code = "HEADERS_TOO_LARGE"
    default_message = "Request headers too large."


class RequestTimeout(GatewayError):
    status_code = 408
    code = "REQUEST_TIMEOUT"
    default_message = "The request body did not arrive in time."


class UnsupportedMediaType(GatewayError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class SearchConflict(GatewayError):
    status_code = 409
    code = "SEARCH_ALREADY_SUBMITTED"
    default_message = "This search was already submitted; its images can no longer change."


class NotUnresolved(GatewayError):
    status_code = 409
    code = "NOT_UNRESOLVED"
    default_message = "Only a search flagged unresolved can be settled by an operator."


class UpstreamError(GatewayError):
    """An in-band error from FaceCheck itself: its own `error` and `code` pass through."""

    status_code = 502

    def __init__(self, message: str, upstream_code: str | None, id_search: str | None = None) -> None:
        super().__init__(message)
        self.upstream_code = upstream_code or "EXCEPTION"
        self.id_search = id_search


class UpstreamUnavailable(GatewayError):
    status_code = 502
    code = "UPSTREAM_UNAVAILABLE"
    default_message = "The face-search service is unavailable; try again shortly."


class CircuitOpen(UpstreamUnavailable):
    """New work refused by the open circuit breaker: nothing was sent upstream."""


class UpstreamTimeout(GatewayError):
    status_code = 504
    code = "UPSTREAM_TIMEOUT"
    default_message = "The face-search service did not answer in time; try again shortly."


class ServiceUnavailable(GatewayError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "The gateway cannot serve this request right now; try again shortly."


class RateLimited(GatewayError):
    status_code = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests; slow down and retry after the time in Retry-After."


class ConcurrencyLimited(GatewayError):
    status_code = 429
    code = "CONCURRENCY_LIMIT"
    default_message = "Too many searches running at once; retry when one finishes."


class DailyLimit(GatewayError):
    status_code = 429
    code = "DAILY_LIMIT"
    default_message = "Daily search limit reached; it resets at midnight UTC."


class QuotaExceeded(GatewayError):
    status_code = 402
    code = "QUOTA_EXCEEDED"
    default_message = "Monthly credit budget exhausted; it resets on the 1st (UTC)."


class NoCredits(GatewayError):
    status_code = 402
    code = "NO_CREDITS"
    default_message = "The company's FaceCheck balance cannot cover this search."


class DemoOnly(GatewayError):
    status_code = 403
    code = "DEMO_ONLY"
    default_message = "This tenant may only run demo searches (demo: true)."


class PurposeRequired(GatewayError):
    status_code = 400
    code = "PURPOSE_REQUIRED"
    default_message = "This tenant must state the purpose of each search: send an X-Purpose header."


class AuditUnavailable(GatewayError):
    """Neither the database nor the local spool can record the call, so it is not run."""

    status_code = 503
    code = "AUDIT_UNAVAILABLE"
    default_message = "The audit log cannot record this request right now; it was not run. Try again shortly."


class InternalError(GatewayError):
    status_code = 500
    code = "INTERNAL_ERROR"
    default_message = "Internal error."


def error_code(exc: GatewayError) -> str:
    return exc.upstream_code if isinstance(exc, UpstreamError) else exc.code


def envelope(**values: Any) -> dict[str, Any]:
    """A FaceCheck envelope with every key present."""
    body: dict[str, Any] = dict.fromkeys(ENVELOPE_KEYS)
    body.update(values)
    return body


def json_response(body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code, headers=dict(headers or {}), media_type="application/json")


def render_error(exc: GatewayError, *, path: str, http_status: bool) -> Response:
    """Render any GatewayError: FaceCheck envelope on /api, plain JSON on other routes."""
    code = error_code(exc)
    if path.startswith("/api/"):
        id_search = exc.id_search if isinstance(exc, UpstreamError) else None
        body: dict[str, Any] = envelope(id_search=id_search, error=exc.message, code=code)
        status = exc.status_code if http_status else 200
    else:
        body = {"error": exc.message, "code": code, "detail": exc.detail}
        status = exc.status_code
    return json_response(body, status, exc.headers)
