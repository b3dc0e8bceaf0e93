"""The gateway stays up and answers envelopes when its database or upstream goes away, and
recovers by itself when they return."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import Stack, start_stack


@pytest.fixture(scope="module")
def pg_stack(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    postgres_server.start_again()
    name = f"faults_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    s = start_stack(tmp_path_factory.mktemp("faults"), postgres_server.url(name), INFO_CACHE_SECONDS="0")
    try:
        yield s
    finally:
        s.gateway.terminate()
        s.sandbox.terminate()
        postgres_server.start_again()


def test_database_down_is_service_unavailable_then_recovers(pg_stack: Stack, postgres_server: PostgresServer) -> None:
    tenant, key = pg_stack.new_tenant("db")
    unused = pg_stack.cli_json("keys", "create", tenant)["key"]  # not in the key cache: its lookup needs the database
    sid = upload(pg_stack, key, make_image(401))["id_search"]
    postgres_server.stop()
    try:
        for body in (pg_stack.post("/api/info", unused).json(), search(pg_stack, key, sid, status_only=True)):
            assert body["code"] == "SERVICE_UNAVAILABLE", body
            assert body["output"] is None
    finally:
        postgres_server.start_again()
    final = search(pg_stack, key, sid, with_progress=False)
    assert final["error"] is None and final["progress"] == 100


def test_upstream_down_is_unavailable_then_recovers(pg_stack: Stack) -> None:
    key = pg_stack.new_tenant("up")[1]
    pg_stack.sandbox.terminate()
    try:
        assert upload(pg_stack, key, make_image(402))["code"] == "UPSTREAM_UNAVAILABLE"
        assert pg_stack.post("/api/info", key).json()["code"] == "UPSTREAM_UNAVAILABLE"
    finally:
        pg_stack.sandbox.start()
    assert pg_stack.post("/api/info", key).json()["is_online"] is True
    assert upload(pg_stack, key, make_image(403))["error"] is None
