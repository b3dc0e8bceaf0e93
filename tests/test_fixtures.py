"""Self-test of the test infrastructure: the servers and processes really start, stop and come back.

Every other suite trusts these fixtures for its outage tests, so each capability they rely on
(query, restart keeps data, crash recovery, refusal while down) is proven here against real binaries.
"""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.fixtures.processes import ManagedProcess, ProcessNotReady
from tests.fixtures.services import (
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
    find_redis_server,
    free_port,
)

# Registers the fixtures for this module even before tests/conftest.py lists the plugin; pytest
# registers a plugin module once, so listing it in both places is harmless.
pytest_plugins = ["tests.fixtures.pytest_services"]


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# ------------------------------------------------------------------------------------------- postgres


@pytest.mark.postgres
async def test_postgres_accepts_query(postgres_db: str) -> None:
    assert postgres_db.startswith("postgresql+asyncpg://gateway@127.0.0.1:")
    assert await _scalar(postgres_db, "SELECT 1") == 1


@pytest.mark.postgres
async def test_postgres_stop_then_start_again_keeps_data(postgres_server: PostgresServer, postgres_db: str) -> None:
    dbname = postgres_db.rsplit("/", 1)[1]
    postgres_server.psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')", dbname)

    postgres_server.stop()
    assert not postgres_server.is_running()
    assert _refuses(postgres_server.port)
    with pytest.raises(RuntimeError, match="psql failed"):
        postgres_server.psql("SELECT 1")

    postgres_server.start_again()
    assert await _scalar(postgres_db, "SELECT v FROM kept") == "survives"


@pytest.mark.postgres
async def test_postgres_kill_then_start_again_recovers(postgres_server: PostgresServer, postgres_db: str) -> None:
    postgres_server.kill()
    assert postgres_server.pid is None
    assert _refuses(postgres_server.port)
    postgres_server.start_again()
    assert await _scalar(postgres_db, "SELECT 2") == 2


@pytest.mark.postgres
def test_postgres_create_and_drop_database(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("fixture_selftest")
    try:
        assert postgres_server.psql("SELECT current_database()", "fixture_selftest") == "fixture_selftest"
    finally:
        postgres_server.drop_database("fixture_selftest")
    assert postgres_server.psql("SELECT count(*) FROM pg_database WHERE datname = 'fixture_selftest'") == "0"
    with pytest.raises(ValueError, match="unsafe"):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')


# ---------------------------------------------------------------------------------------------- redis


@pytest.mark.redis
def test_redis_set_get(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.dbsize() == 0  # flushed for this test
        client.set("k", "v")
        assert client.get("k") == b"v"
    finally:
        client.close()


@pytest.mark.redis
def test_redis_stop_fails_connections_and_start_again_works(redis_server: RedisServer, redis_url: str) -> None:
    client = redis_server.client()
    try:
        client.set("k", "v")
        redis_server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        assert _refuses(redis_server.port)

        redis_server.start_again()
        assert client.ping()
        assert client.get("k") is None  # persistence is off: a restart starts empty
    finally:
        client.close()


@pytest.mark.redis
def test_redis_kill_then_start_again(redis_server: RedisServer, redis_url: str) -> None:
    redis_server.kill()
    assert _refuses(redis_server.port)
    redis_server.start_again()
    client = redis_server.client()
    try:
        assert client.ping()
    finally:
        client.close()


# ------------------------------------------------------------------------------------ missing services


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceUnavailable, match="apt-get install redis-server"):
        find_redis_server()


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_service_fails_under_ci_else_skips(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    from tests.fixtures.pytest_services import service_unavailable  # imported late: see pytest_plugins

    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install"):
        service_unavailable(ServiceUnavailable("install with apt-get install x"))


# ------------------------------------------------------------------------------------------ processes


def _http_server(tmp_path: Path) -> ManagedProcess:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    return ManagedProcess(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        log_dir=tmp_path / "logs",
        name="http",
        base_url=base_url,
        ready_url=f"{base_url}/",
    )


def test_managed_process_ready_then_kill_refuses(tmp_path: Path) -> None:
    with _http_server(tmp_path).start() as proc:
        first_pid = proc.pid
        assert first_pid is not None
        with urllib.request.urlopen(proc.base_url + "/", timeout=5) as response:  # noqa: S310
            assert response.status == 200

        proc.restart()
        assert proc.pid not in (None, first_pid)

        port = int(proc.base_url.rsplit(":", 1)[1])
        proc.kill()
        assert proc.pid is None
        assert _refuses(port)
        assert "GET / HTTP/1.1" in proc.log_text()


def test_managed_process_that_dies_reports_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        [sys.executable, "-c", "print('boom: missing setting'); raise SystemExit(3)"],
        log_dir=tmp_path,
        name="dies",
        ready_url=f"http://127.0.0.1:{free_port()}/",
    )
    with pytest.raises(ProcessNotReady, match=r"rc=3(.|\n)*boom: missing setting"):
        proc.start()
    assert not proc.is_running()
