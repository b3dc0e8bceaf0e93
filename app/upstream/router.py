"""Admin view of the upstream, from the shared cached info (upstream sees it rarely), and the circuit."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import Admin, UpstreamInfoDep
from app.openapi import ADMIN_ERRORS
from app.upstream.info import UpstreamStatus

router = APIRouter(prefix="/admin", tags=["Admin: upstream"], responses=ADMIN_ERRORS)


@router.get("/upstream", summary="Upstream balance, online status, indexed faces and circuit breaker state",
            description="When upstream cannot be asked, the info fields are null and `error` names the code.")
async def upstream_status(info: UpstreamInfoDep, actor: Admin) -> UpstreamStatus:
    return await info.status(actor)
