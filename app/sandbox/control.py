"""``/_sandbox`` routes: let tests and benchmarks read counters and each search's charge, reset, and turn
knobs at runtime.

They need no token: they are not part of the simulated upstream, and the simulator only ever serves
loopback or in-process transports.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.sandbox.state import SandboxState


def build_control_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/stats")
    async def stats() -> JSONResponse:
        state.settle()  # so refunds of searches that ended unobserved are already counted
        return JSONResponse(state.stats.as_dict())

    @router.get("/searches")
    async def searches() -> JSONResponse:
        return JSONResponse(state.ledger())

    @router.post("/reset")
    async def reset() -> JSONResponse:
        state.reset()
        return JSONResponse({"reset": True})

    @router.get("/config")
    async def get_config() -> JSONResponse:
        return JSONResponse(state.config.model_dump(mode="json"))

    @router.post("/config")
    async def update_config(request: Request) -> JSONResponse:
        try:
            patch = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"detail": "The body must be a JSON object."}, status_code=422)
        if not isinstance(patch, dict):
            return JSONResponse({"detail": "The body must be a JSON object."}, status_code=422)
        try:
            config = state.update_config(patch)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            return JSONResponse({"detail": errors}, status_code=422)
        return JSONResponse(config.model_dump(mode="json"))

    return router
