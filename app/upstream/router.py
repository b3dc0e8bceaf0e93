"""Admin view of the upstream, from the shared cached info (upstream sees it rarely)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import Admin, ResourcesDep
from app.upstream.info import UpstreamStatus

router = APIRouter(prefix="/admin", tags=["Admin: upstream"])


@router.get("/upstream", summary="Upstream balance, online status and indexed faces",
            responses={401: {"description": "Missing or invalid admin token (INVALID_TOKEN)"},
                       502: {"description": "Upstream unavailable (UPSTREAM_UNAVAILABLE)"}})
async def upstream_status(resources: ResourcesDep, _: Admin) -> UpstreamStatus:
    return await resources.upstream_info.status()
