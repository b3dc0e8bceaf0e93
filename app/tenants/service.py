"""Tenant and key lifecycle, and authentication of /api callers.

The command line and (later) the admin API both call this one service.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from pydantic import ValidationError

from app.clock import Clock
from app.db import Database
from app.errors import BadRequest, GatewayError, InvalidToken, NotFound
from app.quotas import repository as quota_repo
from app.quotas.policy import Limits, day_of, month_of
from app.tenants import repository as repo
from app.tenants.keys import KEY_PREFIX, SCOPES, generate_key, hash_key
from app.tenants.models import ApiKey, Tenant
from app.tenants.schemas import CreatedKey, KeyOut, LimitsIn, Principal, TenantOut

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class TenantExists(GatewayError):
    status_code = 409
    code = "TENANT_EXISTS"
    default_message = "A tenant with this name already exists."


def validate_limits(values: dict[str, int | bool | None]) -> LimitsIn:
    try:
        return LimitsIn.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadRequest(f"Invalid '{'.'.join(str(p) for p in first['loc'])}': {first['msg']}.") from exc


def _new_id() -> str:
    return secrets.token_hex(8)


def _key_out(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "tenant_id": key.tenant_id,
        "name": key.name,
        "prefix": key.prefix,
        "last4": key.last4,
        "scopes": sorted(s for s in key.scopes.split(",") if s),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "requests_per_minute": key.requests_per_minute,
    }


class TenantService:
    def __init__(self, db: Database, secret: bytes, clock: Clock) -> None:
        self._db = db
        self._secret = secret
        self._clock = clock

    async def create_tenant(self, name: str, limits: LimitsIn | None = None) -> TenantOut:
        if not TENANT_NAME.match(name):
            raise BadRequest("Tenant names are 1-100 characters: letters, digits, '.', '_' or '-'.")
        values = (limits or LimitsIn()).model_dump(exclude_none=True)
        async with self._db.transaction() as session:
            if await repo.tenant_by_name(session, name) is not None:
                raise TenantExists()
            tenant = Tenant(id=_new_id(), name=name, status="active", created_at=self._clock.now(), **values)
            await repo.add(session, tenant)
        return TenantOut.model_validate(tenant, from_attributes=True)

    async def update_limits(self, tenant_ref: str, changes: dict[str, int | bool | None]) -> TenantOut:
        """Change some limits; a None value removes that limit (unlimited), absent keys stay."""
        checked = validate_limits(changes)
        async with self._db.transaction() as session:
            tenant = await repo.tenant_by_ref(session, tenant_ref)
            if tenant is None:
                raise NotFound("Tenant not found.")
            for field in changes:
                value = getattr(checked, field)
                setattr(tenant, field, bool(value) if field == "demo_only" else value)
        return TenantOut.model_validate(tenant, from_attributes=True)

    async def usage(self, tenant_ref: str) -> dict[str, object]:
        """This month's and today's usage as the database records it (the source of truth)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            tenant = await repo.tenant_by_ref(session, tenant_ref)
            if tenant is None:
                raise NotFound("Tenant not found.")
            counts = await quota_repo.tenant_usage(session, tenant.id, month_of(now), day_of(now))
        return {"tenant": tenant.name, "month": month_of(now), "day": day_of(now),
                "credits_per_month": tenant.credits_per_month, **counts}

    async def get_tenant(self, tenant_ref: str) -> TenantOut:
        async with self._db.transaction() as session:
            tenant = await repo.tenant_by_ref(session, tenant_ref)
        if tenant is None:
            raise NotFound("Tenant not found.")
        return TenantOut.model_validate(tenant, from_attributes=True)

    async def list_tenants(self) -> list[TenantOut]:
        async with self._db.transaction() as session:
            rows = await repo.list_tenants(session)
        return [TenantOut.model_validate(t, from_attributes=True) for t in rows]

    async def has_tenants(self) -> bool:
        async with self._db.transaction() as session:
            return await repo.any_tenant(session)

    async def create_key(
        self,
        tenant_ref: str,
        *,
        name: str = "",
        scopes: frozenset[str] = SCOPES,
        expires_at: datetime | None = None,
        requests_per_minute: int | None = None,
    ) -> CreatedKey:
        """Mint a key; the clear value is returned here once and never again."""
        if not scopes or not scopes <= SCOPES:
            raise BadRequest(f"Scopes must be a non-empty subset of {sorted(SCOPES)}.")
        if requests_per_minute is not None and requests_per_minute < 1:
            raise BadRequest("requests_per_minute must be at least 1.")
        clear = generate_key()
        async with self._db.transaction() as session:
            tenant = await repo.tenant_by_ref(session, tenant_ref)
            if tenant is None:
                raise NotFound("Tenant not found.")
            key = ApiKey(
                id=_new_id(),
                tenant_id=tenant.id,
                name=name,
                key_hash=hash_key(self._secret, clear),
                prefix=clear[: len(KEY_PREFIX) + 4],
                last4=clear[-4:],
                scopes=",".join(sorted(scopes)),
                created_at=self._clock.now(),
                expires_at=expires_at,
                requests_per_minute=requests_per_minute,
            )
            await repo.add(session, key)
        return CreatedKey.model_validate({**_key_out(key), "key": clear})

    async def list_keys(self, tenant_ref: str) -> list[KeyOut]:
        async with self._db.transaction() as session:
            tenant = await repo.tenant_by_ref(session, tenant_ref)
            if tenant is None:
                raise NotFound("Tenant not found.")
            keys = await repo.list_keys(session, tenant.id)
        return [KeyOut.model_validate(_key_out(k)) for k in keys]

    async def revoke_key(self, key_id: str) -> KeyOut:
        async with self._db.transaction() as session:
            key = await repo.key_by_id(session, key_id)
            if key is None:
                raise NotFound("Key not found.")
            if key.revoked_at is None:
                key.revoked_at = self._clock.now()
        return KeyOut.model_validate(_key_out(key))

    async def authenticate(self, clear_key: str | None) -> Principal:
        """Resolve a presented key; every failure is INVALID_TOKEN and reveals nothing else."""
        if not clear_key:
            raise InvalidToken("Missing API token: send your key in the Authorization header.")
        async with self._db.transaction() as session:
            found = await repo.key_with_tenant(session, hash_key(self._secret, clear_key))
        if found is None:
            raise InvalidToken()
        key, tenant = found
        now = self._clock.now()
        if key.revoked_at is not None or tenant.status != "active":
            raise InvalidToken()
        if key.expires_at is not None and _aware(key.expires_at) <= now:
            raise InvalidToken("Invalid API token! This key has expired.")
        limits = Limits(
            credits_per_month=tenant.credits_per_month,
            searches_per_day=tenant.searches_per_day,
            requests_per_minute=tenant.requests_per_minute,
            max_concurrent_searches=tenant.max_concurrent_searches,
            demo_only=tenant.demo_only,
        )
        return Principal(tenant.id, tenant.name, key.id, frozenset(key.scopes.split(",")), limits,
                         key.requests_per_minute)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
