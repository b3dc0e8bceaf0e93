"""Admin view of the upstream, from the shared cached info (upstream sees it rarely)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import Admin, UpstreamInfoDep
from app.openapi import ADMIN_ERRORS
from app.upstream.info import UpstreamStatus

router = APIRouter(prefix="/admin", tags=["Admin: upstream"], responses=ADMIN_ERRORS)


@router.get("/upstream", summary="Upstream balance, online status and indexed faces",
            responses={502: {"description": "Upstream unavailable (UPSTREAM_UNAVAILABLE)"},
                       504: {"description": "Upstream too slow (UPSTREAM_TIMEOUT)"}})
async def upstream_status(info: UpstreamInfoDep, _: Admin) -> UpstreamStatus:
    return await info.status()
