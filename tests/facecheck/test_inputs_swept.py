"""DELETE_INPUTS_AFTER_SEARCH end to end: once searches have ended (finished, failed upstream, an append
whose answer was lost, deletes refused for a while), the sandbox holds no input the gateway does not
still need; the only images left are those of a new upload whose answer was lost, whose search id
upstream never told (recorded by hash, and unreachable under the contract: docs/money.md).

A real gateway process on PostgreSQL and Redis, the sandbox served over HTTP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.ledger import upstream_searches, vendor_inputs
from tests.fixtures.money import HEALTHY, SETTLE_DEADLINE_S, Books, launch, settled
from tests.fixtures.services import PostgresServer, RedisServer, wait_for


@pytest.fixture(scope="module")
def books(postgres_server: PostgresServer, redis_server: RedisServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    replicas = launch(tmp_path_factory.mktemp("sweep"), postgres_server, redis_server,
                      delete_inputs_after_search=True, circuit_failure_threshold=0, tracker_interval_seconds=0.5)
    try:
        yield Books(replicas, postgres_server, redis_server)
    finally:
        replicas.stop()


def upstream_id(books: Books, sid: str) -> str:
    return books.server.psql(f"SELECT upstream_id FROM searches WHERE id = '{sid}'", books.replicas.database).strip()


def test_inputs_no_search_needs_are_deleted_at_the_vendor(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    finished = books.upload(key, 5800)
    assert search(stack, key, finished, with_progress=False)["output"] is not None
    stack.knobs(error_rate=1.0)  # started, then reported failed upstream (refunded)
    failed = books.upload(key, 5801)
    assert search(stack, key, failed)["error"] is None
    stack.knobs(error_rate=0.0)
    appended = books.upload(key, 5802)
    stack.knobs(lost_upload_rate=1.0, lost_answer_mode="drop")
    assert upload(stack, key, make_image(5803), id_search=appended)["error"] is not None  # stored, id never told
    lost = make_image(5804)
    assert upload(stack, key, lost)["error"] is not None  # a new search upstream: its id never told
    stack.knobs(lost_upload_rate=0.0)
    assert len(upstream_searches(stack)[upstream_id(books, appended)]["sha256"]) == 2
    assert search(stack, key, appended, with_progress=False)["output"] is not None
    stack.knobs(delete_error_rate=1.0)  # deletes refused while this search ends: left for the sweeper
    refused = books.upload(key, 5805)
    assert search(stack, key, refused, with_progress=False)["output"] is not None
    assert len(upstream_searches(stack)[upstream_id(books, refused)]["sha256"]) == 1
    waiting = books.upload(key, 5806)  # never submitted: its input is still needed
    stack.knobs(**HEALTHY)
    settled(books)
    wait_for(lambda: not vendor_inputs(stack, books.server, books.replicas.database)[0],
             deadline_s=SETTLE_DEADLINE_S, what="every input no search needs deleted at the vendor")
    problems, unreachable = vendor_inputs(stack, books.server, books.replicas.database)
    assert not problems, problems
    assert unreachable == {hashlib.sha256(lost).hexdigest()}
    assert len(upstream_searches(stack)[upstream_id(books, waiting)]["sha256"]) == 1
    books.check(tenant, start)
