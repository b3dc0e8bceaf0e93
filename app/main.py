"""Application factory: `create_app(settings)`; module-level `app` for uvicorn."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.clock import Clock, SystemClock
from app.config import Settings
from app.errors import (
    BadRequest,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    render_error,
)
from app.facecheck.router import router as facecheck_router
from app.lifespan import make_lifespan
from app.observability.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.observability.router import build_router as build_operations_router


def _from_http_exception(exc: StarletteHTTPException) -> GatewayError:
    if exc.status_code == 404:
        return NotFound("No such endpoint.")
    if exc.status_code == 405:
        return MethodNotAllowed("Method not allowed; the FaceCheck API uses POST.")
    return BadRequest(str(exc.detail))


def _from_validation_error(exc: RequestValidationError) -> GatewayError:
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return BadRequest(f"Invalid '{field}': {first.get('msg', 'invalid value')}.")


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
        return render_error(exc, path=request.url.path, http_status=http_status)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return await on_gateway_error(request, _from_http_exception(exc))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await on_gateway_error(request, _from_validation_error(exc))

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes, http_status=http_status)
    app.add_middleware(RequestContextMiddleware, http_status=http_status)

    app.include_router(facecheck_router)
    app.include_router(build_operations_router(metrics_enabled=settings.metrics_enabled))

    return app


app = create_app()
