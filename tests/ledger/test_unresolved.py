"""A search upstream never reports on is flagged unresolved past the deadline (never refunded on a
guess), listed for an operator, and settled by the operator either way, through the API or the
command line, as its one end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.api import search
from tests.fixtures.audit_log import events
from tests.fixtures.ledger import ledger_problems
from tests.fixtures.money import HEALTHY, Books, launch, settled
from tests.fixtures.scrape import scrape
from tests.fixtures.services import PostgresServer, RedisServer, wait_for


@pytest.fixture
def books(postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path) -> Iterator[Books]:
    replicas = launch(tmp_path, postgres_server, redis_server, unresolved_after_hours=0.001,  # 3.6 s
                      tracker_interval_seconds=0.5, circuit_failure_threshold=0)
    try:
        yield Books(replicas, postgres_server, redis_server)
    finally:
        replicas.stop()


def unsettled(books: Books) -> dict[str, str]:
    report = books.stack.admin("GET", "/admin/ledger").json()
    return {s["id_search"]: s["status"] for s in report["unsettled"]}


def test_unresolved_searches_are_flagged_then_settled_by_an_operator(books: Books) -> None:
    stack = books.stack
    tenant, key = books.tenant()
    charged, refunded = books.upload(key, 6001), books.upload(key, 6002)
    stack.knobs(lost_answer_rate=1.0, lost_answer_mode="http_503", status_error_rate=1.0)
    for sid in (charged, refunded):  # upstream ran both, and will not say so
        assert search(stack, key, sid)["error"] is None  # in progress, as far as anyone can tell
    wait_for(lambda: unsettled(books) == {charged: "unresolved", refunded: "unresolved"}, deadline_s=30,
             what="both searches flagged unresolved")
    assert stack.stats()["credits_spent"] == 6
    assert scrape(stack.url).value("facecheck_gateway_searches_unresolved") == 2
    flagged = [e for e in events(stack, tenant_id=tenant) if e["action"] == "search.unresolved"]
    assert sorted(e["id_search"] for e in flagged) == sorted([charged, refunded])
    poll = search(stack, key, charged, status_only=True)
    assert poll["error"] is None and poll["output"] is None  # still held, still "in progress"

    decided = stack.admin("POST", f"/admin/ledger/searches/{charged}/settle", json={"charge": True})
    assert decided.status_code == 200 and decided.json()["credits_charged"] == 3, decided.text
    again = stack.admin("POST", f"/admin/ledger/searches/{charged}/settle", json={"charge": False})
    assert again.status_code == 409 and again.json()["code"] == "NOT_UNRESOLVED"
    stack.cli_json("ledger", "--settle", refunded, "--refund")
    stack.knobs(**HEALTHY)
    settled(books)
    ends = [e for e in events(stack, tenant_id=tenant) if e["action"] in ("search.finished", "search.failed")]
    assert sorted((e["id_search"], e["action"]) for e in ends) == sorted(
        [(charged, "search.finished"), (refunded, "search.failed")])
    # The operator refunded a search upstream did charge: exactly that shows, in the books and the ledger.
    problems = ledger_problems(stack, books.server, books.replicas.database, redis_url=books.redis.url,
                               tenants={tenant}, spent=6)
    assert problems == [f"search {refunded} (failed, refunded): gateway charged 0, upstream 3",
                        f"tenant {tenant}: gateway charged 3, upstream 6",
                        "upstream spent 6 credits for these tenants, the gateway charged 3"], problems
    assert stack.admin("GET", "/admin/ledger").json()["drift"] == 3
