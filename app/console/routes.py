"""Puts the console on an app: its pages, its static files, and its answers to errors as pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from app.console import tenant_views, views
from app.console.web import HERE, PATH, Unsigned, redirect

PREFIX = PATH


def install(app: FastAPI) -> None:
    app.mount(f"{PATH}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(views.router)
    app.include_router(tenant_views.router)

    async def on_unsigned(request: Request, exc: Exception) -> Response:
        return redirect(f"{PATH}/signin")

    app.add_exception_handler(Unsigned, on_unsigned)
