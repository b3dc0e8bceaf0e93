"""Annotated dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.audit import context as audit_call
from app.errors import Forbidden
from app.facecheck.service import SearchService
from app.lifespan import Resources
from app.netaddr import client_ip
from app.tenants.keys import key_from_headers
from app.tenants.schemas import Principal


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop per call on every request.
async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def client_address(request: Request, resources: Resources) -> str:
    """The caller's address (X-Forwarded-For believed only from TRUSTED_PROXIES): the one the audit
    middleware already worked out for this call, so the brake and the audit log always agree."""
    facts = audit_call.current()
    if facts is not None:
        return facts.client_ip
    peer = request.client.host if request.client is not None else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), resources.settings.trusted_networks)


async def require_admin(request: Request, resources: ResourcesDep) -> str:
    """ADMIN_TOKEN (compared in constant time) or an admin-scoped key; who it was, for the audit."""
    actor = await resources.auth.admin(key_from_headers(request.headers), client_address(request, resources))
    audit_call.note_caller(actor=actor)
    return actor


Admin = Annotated[str, Depends(require_admin)]


def _require(scope: str) -> Callable[[Request, Resources], Awaitable[Principal]]:
    async def principal(request: Request, resources: ResourcesDep) -> Principal:
        found = await resources.auth.principal(key_from_headers(request.headers), client_address(request, resources))
        request.state.tenant = found.tenant_name
        audit_call.note_caller(found.tenant_id, found.key_id)
        if scope not in found.scopes:
            raise Forbidden(f"This key lacks the '{scope}' scope.")
        request.state.response_headers = await resources.quotas.check_rate(
            found.tenant_id, found.limits, found.key_id, found.key_requests_per_minute
        )
        return found

    return principal


SearchPrincipal = Annotated[Principal, Depends(_require("search"))]
InfoPrincipal = Annotated[Principal, Depends(_require("info"))]


async def get_search_service(resources: ResourcesDep) -> SearchService:
    return resources.searches


SearchServiceDep = Annotated[SearchService, Depends(get_search_service)]
