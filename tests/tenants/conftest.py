"""An in-process gateway (embedded sandbox, SQLite) with a clock the test moves, for the admin API;
and the replica fixture, for what must hold across processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.config import Settings
from app.db.migrate import upgrade
from app.lifespan import Resources
from app.main import create_app
from tests.quotas.conftest import start_replicas

ADMIN = "in-process-admin-token-Mw4Qz8Tr1Xk6Bn3Vh9Lp2Jc7Fd5Gs0"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


class ManualClock:
    """Wall and monotonic time that move only when the test says so."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class Gateway:
    client: TestClient
    clock: ManualClock

    @property
    def resources(self) -> Resources:
        resources: Resources = self.client.app.state.resources  # type: ignore[attr-defined]
        return resources

    def admin(self, method: str, path: str, *, auth: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=AUTH if auth is None else auth, **kwargs)

    def tenant(self, name: str, **fields: Any) -> dict[str, Any]:
        response = self.admin("POST", "/admin/tenants", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def key(self, tenant: str, **fields: Any) -> dict[str, Any]:
        response = self.admin("POST", f"/admin/tenants/{tenant}/keys", json=fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def api(self, path: str, key: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.client.post(path, headers={"Authorization": key}, **kwargs).json()
        return body


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    settings = Settings(_env_file=None, data_dir=tmp_path, admin_token=ADMIN, auth_failure_limit=5,
                        sandbox_search_seconds=0, sandbox_queue_seconds=0, log_level="WARNING")
    upgrade(settings)
    clock = ManualClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Gateway(client, clock)


__all__ = ["ADMIN", "AUTH", "Gateway", "ManualClock", "gateway", "start_replicas"]
