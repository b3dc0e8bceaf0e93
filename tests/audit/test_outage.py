"""Nothing lost when PostgreSQL goes away: events wait in the fsync'd spool and are replayed in
order, exactly once, when it is back. With neither the database nor the spool able to take the
"search submitted" event, the search is refused (AUDIT_UNAVAILABLE) and never reaches upstream."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.api import delta, search, upload
from tests.fixtures.audit_log import ids, request_ids, sql
from tests.fixtures.images import make_image
from tests.fixtures.scrape import scrape
from tests.fixtures.services import PostgresServer, wait_for
from tests.fixtures.stack import Stack, fresh_database, running_stack

SPOOL_DEPTH = "facecheck_gateway_audit_spool_depth"


@pytest.fixture
def pg_stack(postgres_server: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A gateway on PostgreSQL whose keys stay cached through an outage; settings per test."""
    extra: dict[str, str] = getattr(request, "param", {})
    database = fresh_database(postgres_server, "audit")
    with running_stack(tmp_path / "stack", database, KEY_CACHE_SECONDS="600", INFO_CACHE_SECONDS="0",
                       AUDIT_REPLAY_INTERVAL_SECONDS="0.3", **extra) as s:
        try:
            yield s
        finally:
            postgres_server.start_again()


class Load:
    """Clients calling info and upload_pic in a loop; every answer's X-Request-ID is kept."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.stack, self.key = stack, key
        self.request_ids: list[str] = []
        self.codes: list[str | None] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def call(self, n: int) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            if n % 2:
                response = session.post(self.stack.url + "/api/info", headers={"Authorization": self.key}, timeout=30)
            else:
                files = [("images", ("a.jpg", make_image(600 + n % 50), "image/jpeg"))]
                response = session.post(self.stack.url + "/api/upload_pic", headers={"Authorization": self.key},
                                        files=files, timeout=30)
            with self._lock:
                self.request_ids.append(response.headers["X-Request-ID"])
                self.codes.append(response.json().get("code"))
            n += 2

    def count(self) -> int:
        with self._lock:
            return len(self.request_ids)

    def stop(self) -> None:
        self._stop.set()


def test_postgres_outage_under_load_loses_and_duplicates_nothing(
    pg_stack: Stack, postgres_server: PostgresServer
) -> None:
    tenant, key = pg_stack.new_tenant("outage")
    tenant_id, _ = ids(pg_stack, tenant)
    warm = pg_stack.post("/api/info", key)
    assert warm.json().get("is_online") is True  # the key is now cached
    load = Load(pg_stack, key)
    with ThreadPoolExecutor(4) as pool:
        runners = [pool.submit(load.call, n) for n in range(4)]
        try:
            wait_for(lambda: load.count() >= 12, deadline_s=30, what="calls before the outage")
            postgres_server.stop()
            mark = load.count()
            wait_for(lambda: load.count() >= mark + 30, deadline_s=60, what="calls during the outage")
            assert scrape(pg_stack.url).value(SPOOL_DEPTH) > 0  # they went to the spool
            postgres_server.start_again()
            mark = load.count()
            wait_for(lambda: load.count() >= mark + 12, deadline_s=60, what="calls after the outage")
        finally:
            load.stop()
            postgres_server.start_again()
        for runner in runners:
            runner.result()
    assert "SERVICE_UNAVAILABLE" in load.codes and None in load.codes  # both kinds of call were made

    wait_for(lambda: scrape(pg_stack.url).value(SPOOL_DEPTH) == 0, deadline_s=30, what="spool replayed")
    recorded = request_ids(pg_stack, tenant_id)
    assert len(recorded) == len(set(recorded))  # none duplicated
    assert set(recorded) == {*load.request_ids, warm.headers["X-Request-ID"]}  # none missing, none extra
    assert "audit chain valid" in pg_stack.cli("audit", "verify").stdout


@pytest.mark.parametrize("pg_stack", [{"AUDIT_SPOOL_DIR": "not-a-dir/spool"}], indirect=True)
def test_search_refused_when_neither_database_nor_spool_can_record_it(
    pg_stack: Stack, postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> None:
    (pg_stack.tmp / "not-a-dir").write_text("a file, so the spool cannot be created under it")
    key = pg_stack.new_tenant("noaudit")[1]
    sid = upload(pg_stack, key, make_image(700))["id_search"]
    # The database is up but refuses audit writes (as a full disk or a lost grant would).
    sql(pg_stack, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$", request)
    sql(pg_stack, "CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse()",
        request)
    before = pg_stack.stats()
    for _ in range(2):
        assert search(pg_stack, key, sid)["code"] == "AUDIT_UNAVAILABLE"
    postgres_server.stop()
    try:
        assert search(pg_stack, key, sid)["code"] in {"AUDIT_UNAVAILABLE", "SERVICE_UNAVAILABLE"}
    finally:
        postgres_server.start_again()
    assert delta(before, pg_stack.stats())["search_submits"] == 0  # nothing ran unrecorded
    sql(pg_stack, "DROP TRIGGER refuse ON audit_events", request)
    assert search(pg_stack, key, sid)["error"] is None  # the claim and reservation were released
    assert delta(before, pg_stack.stats())["search_submits"] == 1
    assert "audit chain valid" in pg_stack.cli("audit", "verify").stdout


def test_spool_left_by_a_dead_process_is_replayed_once(pg_stack: Stack, postgres_server: PostgresServer) -> None:
    tenant, key = pg_stack.new_tenant("orphan")
    tenant_id, _ = ids(pg_stack, tenant)
    assert pg_stack.post("/api/info", key).json().get("is_online") is True
    postgres_server.stop()
    try:
        spooled = [pg_stack.post("/api/info", key).headers["X-Request-ID"] for _ in range(5)]
        pg_stack.gateway.kill()  # dies with its spool not replayed
    finally:
        postgres_server.start_again()
    spool = pg_stack.tmp / "data" / "audit-spool"
    [left] = list(spool.glob("spool-*.jsonl"))
    # A replay cut short by a crash: the first two are already in; the rest must follow, once each.
    lines = left.read_bytes().splitlines(keepends=True)
    partial = spool / f"spool-0-{uuid.uuid4().hex[:8]}.jsonl"
    partial.write_bytes(b"".join(lines[:2]))
    pg_stack.gateway.start()
    wait_for(lambda: not list(spool.glob("spool-*.jsonl")) or all(p.stat().st_size == 0 for p in spool.iterdir()),
             deadline_s=30, what="spools replayed")
    recorded = request_ids(pg_stack, tenant_id)
    assert sorted(r for r in recorded if r in spooled) == sorted(spooled)
    assert len(recorded) == len(set(recorded)) == 6
    assert "audit chain valid" in pg_stack.cli("audit", "verify").stdout
