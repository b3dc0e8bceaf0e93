"""Pure ASGI: the hottest routes, called straight from the end of the middleware chain.

Official clients poll POST /api/search every second, so it (and /api/info) takes most of a busy
day's calls. FastAPI's router, exception middleware and request handling cost about a third of a
status poll's CPU, for endpoints that need none of it: they take the request and return a
response. Here those endpoints are called directly, with the same route object in the scope
(metrics and the access log name the route as before) and the same error renderer; the routes stay
registered with FastAPI, which documents them and answers any other method or path.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import GatewayError
from app.observability.middleware import answer_error


class DirectRoutes:
    def __init__(self, app: ASGIApp, *, routes: Iterable[APIRoute], http_status: bool) -> None:
        self.app = app
        self.http_status = http_status
        self.routes = {f"{method} {route.path}": route for route in routes for method in route.methods or ()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(f"{scope['method']} {scope['path']}") if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        try:
            response: Response = await route.endpoint(Request(scope, receive, send))
        except GatewayError as exc:
            response = answer_error(exc, path=scope["path"], http_status=self.http_status)
        await response(scope, receive, send)
