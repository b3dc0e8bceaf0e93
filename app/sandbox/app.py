"""Assemble the simulator app.

All state is built here, at construction, because the app is often mounted through
``httpx.ASGITransport``, which never runs a lifespan.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI

from app.sandbox.api import Clock, Sleep, build_api_router
from app.sandbox.config import SandboxConfig
from app.sandbox.control import build_control_router
from app.sandbox.state import SandboxState


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
) -> FastAPI:
    """Build a FaceCheck simulator.

    ``clock`` is monotonic seconds. ``sleep`` is how the app waits (latency, hangs, and
    ``with_progress: false``); tests pass one that advances their fake clock so that no real time
    passes.
    """
    state = SandboxState(config or SandboxConfig(), clock or time.monotonic)
    app = FastAPI(title="FaceCheck.ID sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    app.include_router(build_api_router(state, clock or time.monotonic, sleep or asyncio.sleep))
    app.include_router(build_control_router(state))
    return app
