"""Annotated dependencies for the routers: authentication, and what each domain's routers use.

Every object here was built once by the lifespan; a router names the one it needs and never the
whole bag of resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.actors import Actor
from app.audit import context as audit_call
from app.audit.writer import AuditWriter
from app.config import Settings
from app.db import Database
from app.errors import Forbidden
from app.facecheck.purge import CachePurge
from app.facecheck.service import SearchService
from app.ledger.service import LedgerService
from app.lifespan import Resources
from app.netaddr import client_ip
from app.notify.service import NotifyService
from app.observability.readiness import Readiness
from app.tenants.auth import Authenticator
from app.tenants.keys import key_from_headers
from app.tenants.schemas import Principal
from app.tenants.service import TenantService
from app.upstream.info import UpstreamInfo


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop per call on every request.
async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


_ResourcesDep = Annotated[Resources, Depends(get_resources)]


def client_address(request: Request, resources: Resources) -> str:
    """The caller's address (X-Forwarded-For believed only from TRUSTED_PROXIES): the one the audit
    middleware already worked out for this call, so the brake and the audit log always agree."""
    facts = audit_call.current()
    if facts is not None:
        return facts.client_ip
    peer = request.client.host if request.client is not None else None
    return client_ip(peer, request.headers.get("x-forwarded-for"), resources.settings.trusted_networks)


async def require_admin(request: Request, resources: _ResourcesDep) -> Actor:
    """The operator or a tenant admin, handed to the services, which decide what it may do; noted
    (with a tenant admin's tenant) so the audit log names who acted, a refusal included."""
    actor = await resources.auth.admin(key_from_headers(request.headers), client_address(request, resources))
    audit_call.note_caller(actor.tenant_id, actor.key_id, actor.label)
    return actor


Admin = Annotated[Actor, Depends(require_admin)]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What an /api route needs: the calling tenant's key, and the search service."""

    principal: Principal
    searches: SearchService
    settings: Settings


async def api_call(request: Request, scope: str) -> ApiCall:
    """Authenticate an /api call whose key needs `scope`, and count it against the rate limits.

    A plain call, not a FastAPI dependency: these routes take every poll, and the dependency
    solver's walk per request cost a fifth of a status poll's CPU."""
    resources: Resources = request.app.state.resources
    found = await resources.auth.principal(key_from_headers(request.headers), client_address(request, resources))
    request.state.tenant = found.tenant_name
    audit_call.note_caller(found.tenant_id, found.key_id)
    if scope not in found.scopes:
        raise Forbidden(f"This key lacks the '{scope}' scope.")
    request.state.response_headers = await resources.quotas.check_rate(
        found.tenant_id, found.limits, found.key_id, found.key_requests_per_minute
    )
    return ApiCall(found, resources.searches, resources.settings)


# -- kernel --------------------------------------------------------------------------------------
async def _settings(resources: _ResourcesDep) -> Settings:
    return resources.settings


async def _db(resources: _ResourcesDep) -> Database:
    return resources.db


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_db)]


# -- observability, upstream, audit ---------------------------------------------------------------
async def _readiness(resources: _ResourcesDep) -> Readiness:
    return resources.readiness


async def _upstream_info(resources: _ResourcesDep) -> UpstreamInfo:
    return resources.upstream_info


async def _ledger(resources: _ResourcesDep) -> LedgerService:
    return resources.ledger


async def _audit(resources: _ResourcesDep) -> AuditWriter:
    return resources.audit


ReadinessDep = Annotated[Readiness, Depends(_readiness)]
UpstreamInfoDep = Annotated[UpstreamInfo, Depends(_upstream_info)]
AuditDep = Annotated[AuditWriter, Depends(_audit)]
LedgerDep = Annotated[LedgerService, Depends(_ledger)]


# -- tenants, searches ------------------------------------------------------------------------------
async def _tenants(resources: _ResourcesDep) -> TenantService:
    return resources.tenants


async def _purge(resources: _ResourcesDep) -> CachePurge:
    return resources.purge


async def _auth(resources: _ResourcesDep) -> Authenticator:
    return resources.auth


TenantsDep = Annotated[TenantService, Depends(_tenants)]
AuthDep = Annotated[Authenticator, Depends(_auth)]
CachePurgeDep = Annotated[CachePurge, Depends(_purge)]


# -- budget notifications -----------------------------------------------------------------------------
async def _notify(resources: _ResourcesDep) -> NotifyService:
    return resources.notify


NotifyDep = Annotated[NotifyService, Depends(_notify)]
