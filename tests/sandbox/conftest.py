"""Fixtures for the simulator tests: an in-process app driven by a fake clock.

The fake clock's ``sleep`` advances the clock instead of waiting, so latency, hangs and
``with_progress: false`` waits all finish instantly while the app still sees the time pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.sandbox import SandboxConfig, create_sandbox_app
from tests.fixtures.sandbox_app import FakeClock, Sandbox, SandboxFactory


@pytest.fixture
async def make_sandbox() -> AsyncIterator[SandboxFactory]:
    """Build simulators with config overrides; each gets its own fake clock."""
    clients: list[httpx.AsyncClient] = []

    def make(**knobs: Any) -> Sandbox:
        clock = FakeClock()
        app = create_sandbox_app(SandboxConfig(**knobs), clock=clock, sleep=clock.sleep)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
        clients.append(client)
        return Sandbox(app=app, client=client, clock=clock)

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return make_sandbox()
