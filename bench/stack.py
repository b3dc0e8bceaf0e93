"""The processes a benchmark measures: the sandbox upstream, the gateway, and for the production
configuration PostgreSQL and Redis, each a separate process on loopback in a temporary folder.

They are started with the same fixtures the end-to-end tests use (tests/fixtures), so the benchmark
runs exactly what the tests check.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.processes import ManagedProcess, start_gateway, start_sandbox
from tests.fixtures.services import LOOPBACK, PostgresServer, RedisServer, free_port, wait_for
from tests.fixtures.stack import ADMIN_TOKEN, UPSTREAM_TOKEN, gateway_env, sandbox_env


@dataclass(frozen=True)
class Config:
    name: str
    production: bool
    workers: int


CONFIGS = (
    Config("embedded (SQLite, in-process), 1 worker", production=False, workers=1),
    Config("production (PostgreSQL + Redis), 1 worker", production=True, workers=1),
    Config("production (PostgreSQL + Redis), 2 workers", production=True, workers=2),
)


class Services:
    """PostgreSQL and Redis, started once on first use and shared by the production configurations."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None

    def urls(self) -> tuple[str, str]:
        """A fresh database and an empty Redis: (DATABASE_URL, REDIS_URL)."""
        if self.postgres is None:
            self.postgres = PostgresServer.start(self._tmp / "postgres")
        if self.redis is None:
            self.redis = RedisServer.start(self._tmp / "redis")
        name = f"bench_{uuid.uuid4().hex[:10]}"
        self.postgres.create_database(name)
        self.redis.flushall()
        return self.postgres.url(name), self.redis.url

    def close(self) -> None:
        for server in (self.redis, self.postgres):
            if server is not None:
                server.close()


def start_upstream(tmp: Path, search_seconds: float) -> ManagedProcess:
    """The sandbox: no artificial latency, searches that run `search_seconds`, credits without end."""
    env = {**sandbox_env(), "SANDBOX_QUEUE_SECONDS": "0", "SANDBOX_SEARCH_SECONDS": str(search_seconds),
           "SANDBOX_INITIAL_CREDITS": str(10**12), "SANDBOX_LATENCY_MS": "0", "LOG_LEVEL": "WARNING"}
    return start_sandbox(tmp, env=env, cwd=tmp)


def start_floor(tmp: Path) -> ManagedProcess:
    """The bare FastAPI route (bench/floor.py), one worker, on the gateway's uvicorn settings."""
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    proc = ManagedProcess([sys.executable, "-m", "bench.floor", "--host", LOOPBACK, "--port", str(port)],
                          log_dir=tmp, name=f"floor-{port}", base_url=base_url, ready_url=f"{base_url}/healthz")
    return proc.start()


@contextlib.contextmanager
def gateway(tmp: Path, upstream: ManagedProcess, config: Config, services: Services,
            **extra: str) -> Iterator[ManagedProcess]:
    database_url, redis_url = services.urls() if config.production else ("", "")
    env = gateway_env(tmp, upstream.base_url, database_url, REDIS_URL=redis_url, API_ERROR_STATUS="http", **extra)
    proc = start_gateway(tmp, env=env, workers=config.workers, cwd=tmp)
    try:
        yield proc
    finally:
        proc.terminate()


class Client:
    """Setup calls (tenants, uploads, submits) over one keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, **kwargs)
        response.raise_for_status()
        return response.json()

    def new_tenant(self, name: str, **limits: int) -> str:
        """Create a tenant with `limits` and return a clear key for it."""
        self.admin("POST", "/admin/tenants", json={"name": name, **limits})
        key: str = self.admin("POST", f"/admin/tenants/{name}/keys", json={})["key"]
        return key

    def call(self, path: str, key: str, **kwargs: Any) -> httpx.Response:
        response = self.http.post(path, headers={"Authorization": key}, **kwargs)
        body = response.json()
        if response.status_code != 200 or body.get("error"):
            raise RuntimeError(f"{path} answered {response.status_code}: {body.get('code')} {body.get('error')}")
        return response

    def upload(self, key: str, image: bytes) -> str:
        files = {"images": ("bench.jpg", image, "image/jpeg")}
        id_search: str = self.call("/api/upload_pic", key, files=files).json()["id_search"]
        return id_search

    def submit(self, key: str, id_search: str) -> httpx.Response:
        return self.call("/api/search", key, json={"id_search": id_search, "with_progress": True})

    def wait_finished(self, key: str, id_search: str, deadline_s: float) -> None:
        wait_for(lambda: self.submit(key, id_search).json().get("output") is not None,
                 deadline_s=deadline_s, what=f"search {id_search} to finish")


DIRECT_KEY = UPSTREAM_TOKEN
