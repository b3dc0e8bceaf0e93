"""Fixtures for the simulator tests: an in-process app driven by a fake clock.

The fake clock's ``sleep`` advances the clock instead of waiting, so latency, hangs and
``with_progress: false`` waits all finish instantly while the app still sees the time pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.sandbox import SandboxConfig, create_sandbox_app

TOKEN = "sandbox"
AUTH = {"Authorization": TOKEN}


class FakeClock:
    """Monotonic seconds that move only when a test (or the app's sleep) says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Sandbox:
    """One simulator plus a client, with shorthands for the calls the tests repeat."""

    app: FastAPI
    client: httpx.AsyncClient
    clock: FakeClock
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))

    async def upload(self, *images: bytes, id_search: str | None = None) -> dict[str, Any]:
        files = [("images", (f"face{i}.jpg", blob, "image/jpeg")) for i, blob in enumerate(images)]
        data = {"id_search": id_search} if id_search is not None else None
        response = await self.client.post("/api/upload_pic", files=files, data=data, headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def search(self, id_search: str | None, **flags: Any) -> dict[str, Any]:
        response = await self.client.post("/api/search", json={"id_search": id_search, **flags}, headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def delete(self, id_search: str, id_pic: str) -> dict[str, Any]:
        params = {"id_search": id_search, "id_pic": id_pic}
        response = await self.client.post("/api/delete_pic", params=params, headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def info(self) -> dict[str, Any]:
        response = await self.client.post("/api/info", headers=self.headers)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    async def stats(self) -> dict[str, int]:
        response = await self.client.get("/_sandbox/stats")
        assert response.status_code == 200
        body: dict[str, int] = response.json()
        return body

    async def configure(self, **knobs: Any) -> dict[str, Any]:
        response = await self.client.post("/_sandbox/config", json=knobs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


SandboxFactory = Callable[..., Sandbox]


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
