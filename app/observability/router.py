"""Operations endpoints: liveness, readiness and metrics. No tenant key: probes and scrapers call them.

None of them says anything secret: readiness names parts and short reasons, metrics carry only
bounded labels (route templates, tenant names, codes).
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from starlette.responses import Response

from app.deps import ReadinessDep
from app.errors import json_response
from app.observability import exposition


def build_router(*, metrics_enabled: bool) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @router.get("/readyz", summary="Database, Redis (when configured) and upstream are reachable")
    async def readyz(readiness: ReadinessDep) -> Response:
        report = await readiness.check()
        return json_response(report.body(), 200 if report.ready else 503)

    if metrics_enabled:

        @router.get("/metrics", summary="Prometheus metrics (text format)")
        async def metrics(readiness: ReadinessDep) -> Response:
            await readiness.refresh_gauges()
            # Combining several workers' files is disk work: keep it off the event loop.
            body = await anyio.to_thread.run_sync(exposition.render)
            return Response(body, media_type=exposition.CONTENT_TYPE)

    return router
