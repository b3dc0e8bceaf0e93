"""Application factory: `create_app(settings)`; module-level `app` for uvicorn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.audit.middleware import AuditMiddleware
from app.audit.models import MAX_CASE_ID, MAX_PURPOSE, MAX_USER_AGENT
from app.audit.router import router as audit_router
from app.cache.router import router as cache_admin_router
from app.clock import Clock, SystemClock
from app.config import Settings
from app.console.router import install as install_console
from app.console.web import PATH as CONSOLE
from app.console.web import error_page as console_error_page
from app.docs_pages import add_offline_docs
from app.errors import (
    BadRequest,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
)
from app.facecheck.router import router as facecheck_router
from app.ledger.router import router as ledger_router
from app.lifespan import make_lifespan
from app.notify.router import router as webhook_router
from app.observability.direct import DirectRoutes
from app.observability.limits import BodyLimitMiddleware, HeaderLimitMiddleware
from app.observability.middleware import RequestContextMiddleware, answer_error
from app.observability.router import build_router as build_operations_router
from app.openapi import build_openapi
from app.tenants.router import router as admin_router
from app.upstream.router import router as upstream_admin_router

# The hottest routes: every client polls /api/search each second, and asks /api/info before searches.
DIRECT_PATHS = ("/api/search", "/api/info")
# Free-text headers the audit log keeps, cut to the lengths it stores before anything reads them.
CLIPPED_HEADERS = {b"x-purpose": MAX_PURPOSE, b"x-case-id": MAX_CASE_ID, b"user-agent": MAX_USER_AGENT}


def _from_http_exception(exc: StarletteHTTPException) -> GatewayError:
    if exc.status_code == 404:
        return NotFound("No such endpoint.")
    if exc.status_code == 405:
        return MethodNotAllowed("Method not allowed; the FaceCheck API uses POST.")
    return BadRequest(str(exc.detail))


def _field(error: Mapping[str, Any]) -> str:
    return ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"


def _from_validation_error(exc: RequestValidationError, path: str) -> GatewayError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    message = f"Invalid '{_field(first)}': {first.get('msg', 'invalid value')}."
    if path.startswith("/admin"):
        detail = [{"field": _field(e), "message": str(e.get("msg", ""))} for e in errors]
        return ValidationFailed(message, detail=detail)
    return BadRequest(message)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    http_status = settings.api_error_status == "http"
    app = FastAPI(
        title="facecheck-gateway",
        version="0.1.0",
        summary="A multi-tenant drop-in gateway for the FaceCheck.ID face-search API.",
        lifespan=make_lifespan(settings, clock),
        docs_url=None,
        redoc_url=None,
        # The gateway exports its own metrics and logs; FastAPI's OpenTelemetry hooks would only ask,
        # on every request, for providers nobody configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.clock = clock

    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        if request.url.path.startswith(CONSOLE):
            return console_error_page(request, exc)
        return answer_error(exc, path=request.url.path, http_status=http_status)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return await on_gateway_error(request, _from_http_exception(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await on_gateway_error(request, _from_validation_error(exc, request.url.path))

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)

    # Innermost: the polls and info calls skip FastAPI's routing (app/observability/direct.py).
    app.add_middleware(DirectRoutes, routes=[r for r in facecheck_router.routes if isinstance(r, APIRoute)
                                             and r.path in DIRECT_PATHS], http_status=http_status)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes,
                       timeout=settings.body_timeout_seconds, http_status=http_status)
    app.add_middleware(AuditMiddleware)
    # Outside the audit middleware, so the free-text headers are cut before it reads them.
    app.add_middleware(HeaderLimitMiddleware, max_bytes=settings.max_header_bytes, clip=CLIPPED_HEADERS,
                       http_status=http_status)
    app.add_middleware(RequestContextMiddleware, http_status=http_status)

    app.include_router(facecheck_router)
    app.include_router(admin_router)
    app.include_router(upstream_admin_router)
    app.include_router(ledger_router)
    app.include_router(audit_router)
    app.include_router(cache_admin_router)
    install_console(app)
    add_offline_docs(app)
    app.include_router(webhook_router)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.include_router(build_operations_router(metrics_enabled=settings.metrics_enabled))

    return app


app = create_app()
