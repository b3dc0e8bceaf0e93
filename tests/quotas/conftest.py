"""Several gateway replicas sharing one real redis-server and one PostgreSQL, in front of one
sandbox: the shape in which budgets must hold exactly."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.processes import ManagedProcess, start_gateway, start_sandbox
from tests.fixtures.pytest_services import redis_target
from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import Stack, gateway_env, sandbox_env


@dataclass
class Replicas:
    """N gateways over one database, one Redis (or none) and one sandbox."""

    tmp: Path
    sandbox: ManagedProcess
    gateways: list[ManagedProcess]
    env: dict[str, str]
    database: str
    _cycle: Iterator[int] = field(default_factory=lambda: itertools.count())

    def stack(self, i: int = 0) -> Stack:
        """A Stack view of one replica (its HTTP helpers and CLI use the shared database)."""
        return Stack(tmp=self.tmp, sandbox=self.sandbox, gateway=self.gateways[i], env=self.env)

    def next(self) -> Stack:
        """Replicas in turn, as a load balancer would hand requests out."""
        return self.stack(next(self._cycle) % len(self.gateways))

    def stop(self) -> None:
        for gateway in self.gateways:
            gateway.terminate()
        self.sandbox.terminate()


StartReplicas = Callable[..., Replicas]


@pytest.fixture
def start_replicas(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer
) -> Iterator[StartReplicas]:
    """Start `n` replicas on a fresh database and an emptied Redis (`redis=False`: in-process
    backend, so n must be 1), run as `redis_mode` says (standalone, cluster, sentinel). Extra keyword
    arguments become gateway settings; `sandbox_credits` sets the upstream balance."""
    started: list[Replicas] = []

    def start(n: int = 3, *, redis: bool = True, sandbox_credits: int = 100_000, redis_mode: str = "standalone",
              **settings: Any) -> Replicas:
        postgres_server.start_again()
        target = redis_target(request, redis_mode)
        name = f"q_{uuid.uuid4().hex[:12]}"
        postgres_server.create_database(name)
        tmp = tmp_path / f"replicas-{len(started)}"
        tmp.mkdir()
        sandbox = start_sandbox(tmp, env={**sandbox_env(), "SANDBOX_INITIAL_CREDITS": str(sandbox_credits)},
                                cwd=tmp)
        extra = {k.upper(): str(v) for k, v in settings.items()}
        if redis:
            extra = {**target.env(), **extra}
        env = gateway_env(tmp, sandbox.base_url, postgres_server.url(name), **extra)
        replicas = Replicas(tmp, sandbox, [], env, name)
        started.append(replicas)
        replicas.gateways.extend(start_gateway(tmp, env=env, cwd=tmp) for _ in range(n))
        return replicas

    yield start
    for replicas in started:
        replicas.stop()


def psql_value(server: PostgresServer, database: str, sql: str) -> str:
    return server.psql(sql, dbname=database).strip()
