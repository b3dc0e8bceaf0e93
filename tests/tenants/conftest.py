"""An in-process gateway (embedded sandbox, SQLite) with a clock the test moves, for the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.config import Settings
from app.db.migrate import upgrade
from app.main import create_app
from tests.fixtures.admin_gateway import ADMIN, Gateway
from tests.fixtures.clock import ManualClock


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    settings = Settings(_env_file=None, data_dir=tmp_path, admin_token=ADMIN, auth_failure_limit=5,
                        sandbox_search_seconds=0, sandbox_queue_seconds=0, log_level="WARNING")
    upgrade(settings)
    clock = ManualClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Gateway(client, clock)

