"""Application factory: `create_app(settings)`; module-level `app` for uvicorn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.audit.middleware import AuditMiddleware
from app.audit.router import router as audit_router
from app.cache.router import router as cache_admin_router
from app.clock import Clock, SystemClock
from app.config import Settings
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
from app.observability.middleware import BodyLimitMiddleware, RequestContextMiddleware, answer_error
from app.observability.router import build_router as build_operations_router
from app.openapi import build_openapi
from app.tenants.router import router as admin_router
from app.upstream.router import router as upstream_admin_router


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
    http_status = settings.api_error_status == "http"
    app = FastAPI(
        title="facecheck-gateway",
        version="0.1.0",
        summary="A multi-tenant drop-in gateway for the FaceCheck.ID face-search API.",
        lifespan=make_lifespan(settings, clock or SystemClock()),
    )

    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
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

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes, http_status=http_status)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestContextMiddleware, http_status=http_status)

    app.include_router(facecheck_router)
    app.include_router(admin_router)
    app.include_router(upstream_admin_router)
    app.include_router(ledger_router)
    app.include_router(audit_router)
    app.include_router(cache_admin_router)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.include_router(build_operations_router(metrics_enabled=settings.metrics_enabled))

    return app


app = create_app()
