"""Pure ASGI middleware: request id, access log, request metrics, last-resort error envelope,
body size limit."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import GatewayError, InternalError, PayloadTooLarge, error_code, render_error
from app.observability import context, metrics
from app.observability.logging import request_id_var

log = logging.getLogger("facecheck_gateway.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED_ROUTE = "unmatched"
# Request ids need to be unique, not secret: a random prefix per process and a counter, so the hot
# path makes no system call for randomness.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def answer_error(exc: GatewayError, *, path: str, http_status: bool) -> Response:
    """Render an error and note its code for the access log and errors_total (in compat mode the
    HTTP status says nothing)."""
    context.note_error(error_code(exc))
    return render_error(exc, path=path, http_status=http_status)


class RequestContextMiddleware:
    """Outermost of ours: every response gets X-Request-ID and X-Gateway-Overhead-Ms, every request
    one log line and its metrics, and any unexpected exception becomes a logged INTERNAL_ERROR
    envelope instead of a bare 500."""

    def __init__(self, app: ASGIApp, *, http_status: bool) -> None:
        self.app = app
        self.http_status = http_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id").decode("latin-1")
        rid = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        token = request_id_var.set(rid)
        stats, stats_token = context.begin(state)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                # Headers a dependency decided on (rate-limit state) for whatever response follows.
                for name, value in state.get("response_headers", {}).items():
                    headers.setdefault(name, value)
                overhead = stats.overhead(time.perf_counter() - started)
                headers["X-Gateway-Overhead-Ms"] = f"{overhead * 1000:.2f}"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if status:
                raise
            error = InternalError(f"Internal error; quote request id {rid} to the gateway operators.")
            await answer_error(error, path=scope["path"], http_status=self.http_status)(scope, receive, send_with_id)
        finally:
            _record(scope, status, stats, time.perf_counter() - started)
            context.end(stats_token)
            request_id_var.reset(token)


def _header(scope: Scope, name: bytes) -> bytes:
    """One request header's value (b"" if absent), without building a dict of all of them."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def _record(scope: Scope, status: int, stats: context.RequestStats, duration: float) -> None:
    """The access line and the request metrics: route template, never the raw path or a key."""
    route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
    overhead = stats.overhead(duration)
    metrics.observe_request(
        route=route, method=scope["method"], status=status, tenant=stats.tenant, duration=duration,
        overhead=overhead, error_code=stats.error_code,
    )  # fmt: skip
    log.info(
        "request",
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "code": stats.error_code,
            "duration_ms": round(duration * 1000, 2),
            "upstream_ms": round(stats.upstream_seconds * 1000, 2),
            "overhead_ms": round(overhead * 1000, 2),
            "cache": stats.cache,
            "tenant": stats.tenant,
        },
    )


class BodyLimitMiddleware:
    """Refuse bodies over the limit before they are parsed. An over-declared body is drained
    (up to a cap) first, so clients that write the whole body before reading still get the
    envelope instead of a reset connection."""

    DRAIN_CAP = 128 * 1024 * 1024

    def __init__(self, app: ASGIApp, *, limit: int, http_status: bool) -> None:
        self.app = app
        self.limit = limit
        self.http_status = http_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.limit:
            error = PayloadTooLarge(f"Request body is {int(declared)} bytes; the limit is {self.limit} bytes.")
            if int(declared) <= self.DRAIN_CAP:
                await _drain(receive)
            await answer_error(error, path=scope["path"], http_status=self.http_status)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(f"Request body exceeds the limit of {self.limit} bytes.")
            return message

        await self.app(scope, counted, send)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


