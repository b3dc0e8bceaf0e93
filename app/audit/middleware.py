"""Pure ASGI: gathers each /api and /admin call's audit facts, and records a call that ends in an
error (and was not recorded by the code that handled it) as one rejection event, written before
the response starts. Every refusal, wherever it is raised (authentication, limits, bad input, the
body-size guard), passes the one error renderer, which notes the code this reads."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.audit import context as call
from app.audit.models import REJECTED
from app.errors import GatewayError
from app.netaddr import client_ip
from app.observability import context as request_context

log = logging.getLogger("facecheck_gateway.audit")
AUDITED = ("/api/", "/admin", "/console")  # the console's changes carry the caller's address
# /api paths and the action name their rejections are recorded under.
ACTIONS = {"/api/upload_pic": "upload", "/api/search": "search", "/api/delete_pic": "delete_pic",
           "/api/info": "info"}


def action_for(scope: Scope) -> str:
    path: str = scope["path"]
    if path.startswith("/console"):
        return "console"
    return ACTIONS.get(path, "admin" if path.startswith("/admin") else "api")


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED):
            await self.app(scope, receive, send)
            return
        resources = scope["app"].state.resources
        headers = Headers(scope=scope)
        peer = scope.get("client")
        address = client_ip(peer[0] if peer else None, headers.get("x-forwarded-for"),
                            resources.settings.trusted_networks)
        request_id = scope.get("state", {}).get("request_id")
        facts, token = call.begin(address, headers.get("user-agent"), request_id, headers.get("x-purpose"),
                                  headers.get("x-case-id"))

        async def send_after_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats = request_context.current()
                code = stats.error_code if stats is not None else None
                if code is not None and not facts.recorded:
                    detail = {"method": scope["method"], "path": scope["path"][:200]}
                    try:
                        await resources.audit.record(action_for(scope), REJECTED, code=code, detail=detail)
                    except GatewayError:  # neither database nor spool: the refusal goes out regardless
                        log.error("rejected call could not be audited", extra={"code": code})
            await send(message)

        try:
            await self.app(scope, receive, send_after_record)
        finally:
            call.end(token)
