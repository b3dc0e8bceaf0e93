"""Every credit accounted for when upstream misbehaves: one test per fault, each ending with the books
checked against the sandbox (tests/fixtures/ledger.py): per search, per tenant and in total, nothing
held, one terminal audit event per search, `audit verify`, and the quota store equal to the database.

A real gateway process on PostgreSQL and Redis, the sandbox served over HTTP; UPSTREAM_TIMEOUT_SECONDS
is 3 (tests/fixtures/stack.py), so a lost answer is one held for longer than that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.api import delta, search, upload
from tests.fixtures.images import make_image
from tests.fixtures.money import HEALTHY, SETTLE_DEADLINE_S, TIMEOUT, Books, launch, poll_until_final, settled
from tests.fixtures.scrape import scrape
from tests.fixtures.services import PostgresServer, RedisServer, wait_for
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def shared_books(postgres_server: PostgresServer, redis_server: RedisServer,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    """One gateway for the fault tests (each with its own tenant); no circuit breaker, so every fault
    reaches the search lifecycle."""
    replicas = launch(tmp_path_factory.mktemp("money"), postgres_server, redis_server, key_cache_seconds=60,
                      circuit_failure_threshold=0)
    try:
        yield Books(replicas, postgres_server, redis_server)
    finally:
        replicas.stop()


@pytest.fixture
def books(shared_books: Books) -> Iterator[Books]:
    yield shared_books
    shared_books.stack.knobs(**HEALTHY)


@pytest.mark.parametrize("mode", ["hang", "drop", "http_503"])
def test_a_lost_submit_answer_is_charged_once_and_never_refunded(books: Books, mode: str) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    sid = books.upload(key, 5001)
    stack.knobs(lost_answer_rate=1.0, lost_answer_mode=mode, hang_seconds=TIMEOUT + 2)
    search(stack, key, sid)  # upstream ran it and charged; the answer never arrived intact
    stack.knobs(**HEALTHY)
    seen = poll_until_final(stack, key, sid)
    assert all(body["error"] is None for body in seen), seen  # in flight, then the result: never an error
    assert seen[-1]["id_search"] == sid and seen[-1]["progress"] == 100
    # The tenant's next search is charged once too: the lost one was not refunded and charged again.
    before = stack.stats()
    other = books.upload(key, 5002)
    assert search(stack, key, other, with_progress=False)["output"] is not None
    assert delta(before, stack.stats())["credits_spent"] == 3
    settled(books)
    books.check(tenant, start)


@pytest.mark.parametrize("fault", [{"status_error_rate": 1.0}, {"offline": True}, {"http_5xx_rate": 1.0}],
                         ids=["status-errors", "offline", "http-5xx"])
def test_errors_on_status_checks_settle_nothing(books: Books, fault: dict[str, Any]) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    sids = [books.upload(key, 5100 + i) for i in range(3)]
    for sid in sids:
        assert search(stack, key, sid)["error"] is None
    stack.knobs(**fault)  # the runs go on upstream, and charge, while every status check fails
    for sid in sids:
        search(stack, key, sid, status_only=True)
    stack.knobs(**HEALTHY)
    for sid in sids:
        assert poll_until_final(stack, key, sid)[-1]["output"] is not None
    assert delta(start, stack.stats())["credits_spent"] == 9
    settled(books)
    books.check(tenant, start)


def test_a_slow_answer_then_success_is_charged_once(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    stack.knobs(slow_answer_rate=1.0, slow_answer_seconds=TIMEOUT / 2)
    sid = books.upload(key, 5200)
    assert search(stack, key, sid)["error"] is None
    stack.knobs(**HEALTHY)
    assert poll_until_final(stack, key, sid)[-1]["output"] is not None
    settled(books)
    books.check(tenant, start)


def test_refunds_only_when_upstream_says_it_did_not_run_or_failed(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    refused, failing = books.upload(key, 5300), books.upload(key, 5301)
    stack.knobs(offline=True)  # the submit is answered: not started, nothing charged
    assert search(stack, key, refused)["code"] == "EXCEPTION"
    stack.knobs(offline=False, error_rate=1.0)  # started, then upstream reports it failed (and refunds)
    assert search(stack, key, failing)["error"] is None
    stack.knobs(**HEALTHY)
    settled(books)
    assert delta(start, stack.stats())["credits_spent"] == 0
    books.check(tenant, start)


def test_no_upload_reaches_upstream_unrecorded_during_a_database_outage(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    books.upload(key, 5400)  # the key is now in the key cache: the outage does not stop authentication
    before = stack.stats()
    books.server.stop()
    try:
        answers = [upload(stack, key, make_image(5401 + i)) for i in range(3)]
    finally:
        books.server.start_again()
    succeeded = [a for a in answers if a["error"] is None]
    assert all(a["code"] == "SERVICE_UNAVAILABLE" for a in answers if a["error"] is not None), answers
    assert delta(before, stack.stats())["uploads"] == len(succeeded)  # what upstream got, clients were told
    settled(books)
    books.check(tenant, start)


@pytest.fixture
def circuit_books(postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path) -> Iterator[Books]:
    replicas = launch(tmp_path, postgres_server, redis_server, circuit_failure_threshold=3, circuit_open_seconds=4)
    try:
        yield Books(replicas, postgres_server, redis_server)
    finally:
        replicas.stop()


def open_the_circuit(stack: Stack, key: str, seed: int) -> None:
    stack.knobs(http_5xx_rate=1.0)
    for i in range(3):
        assert upload(stack, key, make_image(seed + i))["code"] == "UPSTREAM_UNAVAILABLE"


def test_circuit_opens_fails_fast_and_recovers_through_half_open(circuit_books: Books) -> None:
    books = circuit_books
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    open_the_circuit(stack, key, 5500)
    before = stack.stats()
    refused = stack.post("/api/upload_pic", key, files=[("images", ("f.jpg", make_image(5510), "image/jpeg"))])
    assert refused.json()["code"] == "UPSTREAM_UNAVAILABLE" and int(refused.headers["Retry-After"]) >= 1
    assert delta(before, stack.stats())["http_5xx"] == 0  # failed fast: upstream never asked
    status = stack.admin("GET", "/admin/upstream").json()
    assert status["circuit"] in ("open", "half_open") and status["consecutive_failures"] >= 3
    assert scrape(stack.url).value("facecheck_gateway_circuit_state") >= 1
    assert "upstream circuit open" in stack.gateway.log_text()
    stack.knobs(**HEALTHY)
    wait_for(lambda: upload(stack, key, make_image(5520))["error"] is None, deadline_s=30,
             what="an upload through the closed circuit")
    assert stack.admin("GET", "/admin/upstream").json()["circuit"] == "closed"
    assert scrape(stack.url).value("facecheck_gateway_circuit_state") == 0
    assert "upstream circuit half-open" in stack.gateway.log_text()
    assert "upstream circuit closed" in stack.gateway.log_text()
    settled(books)
    books.check(tenant, start)


def test_polls_while_the_circuit_is_open_answer_from_the_last_known_status(circuit_books: Books) -> None:
    books = circuit_books
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    running = books.upload(key, 5600)
    assert search(stack, key, running)["error"] is None
    open_the_circuit(stack, key, 5601)
    for _ in range(3):  # a search already running is followed: never an error while upstream is away
        poll = search(stack, key, running, status_only=True)
        assert poll["error"] is None and poll["id_search"] == running and poll["output"] is None, poll
    stack.knobs(**HEALTHY)
    assert poll_until_final(stack, key, running)[-1]["output"] is not None
    settled(books)
    books.check(tenant, start)


def test_a_delivery_after_upstream_reported_failure_is_charged_and_the_correction_recorded(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    start = stack.stats()
    sid = books.upload(key, 5700)
    # Upstream reports the run failed (the gateway refunds), then delivers its output and keeps the charge.
    stack.knobs(late_output_rate=1.0, late_output_seconds=6.0)
    assert search(stack, key, sid)["error"] is None
    stack.knobs(**HEALTHY)
    wait_for(lambda: search(stack, key, sid, status_only=True)["error"] == "Search failed.",
             deadline_s=SETTLE_DEADLINE_S, what="upstream reporting the search failed")
    refunded = books.server.psql(f"SELECT status, reservation FROM searches WHERE id = '{sid}'",
                                 books.replicas.database).strip()
    assert refunded == "failed|refunded"
    assert poll_until_final(stack, key, sid)[-1]["output"] is not None  # delivered after all
    assert delta(start, stack.stats())["credits_spent"] == 3
    charged = books.server.psql(f"SELECT status, reservation, credits_reserved FROM searches WHERE id = '{sid}'",
                                books.replicas.database).strip()
    assert charged == "finished|committed|3"
    actions = [e["action"] for e in stack.admin("GET", "/admin/audit", params={"id_search": sid}).json()["events"]]
    assert actions.count("search.corrected") == 1 and actions.count("search.failed") == 1, actions
    assert "search.finished" not in actions, actions
    settled(books)
    books.check(tenant, start)
