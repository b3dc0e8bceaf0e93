"""Seeded chaos: two replicas, three tenants, paid searches while a schedule flips upstream faults
(lost answers, status-check errors, 5xx, hangs), SIGKILLs a replica and restarts Redis empty. Once
everything has settled, the books hold per tenant and in total (tests/fixtures/ledger.py).

The seed comes from CHAOS_SEED or is drawn, and is printed in every failure: rerun with
`CHAOS_SEED=<seed>` to replay the same schedule (thread timing still varies).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.ledger import assert_ledger_tells_the_truth, ledger_problems
from tests.fixtures.money import HEALTHY, Books, launch, settled
from tests.fixtures.services import PostgresServer, RedisServer
from tests.fixtures.stack import Stack

TENANTS = 3
SEARCHES_PER_TENANT = 18  # at least 54 paid searches in all
CLIENT_THREADS = 6
SEARCH_DEADLINE_S = 45.0
STEP_S = 1.5


def faults(rng: random.Random) -> list[tuple[str, dict[str, Any] | None]]:
    """The schedule: upstream knobs to set (None: an infrastructure fault, named)."""
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("lost answers", {"lost_answer_rate": 0.4, "lost_answer_mode": rng.choice(["hang", "drop", "http_503"]),
                          "hang_seconds": 4.0}),
        ("status errors", {"status_error_rate": 0.6}),
        ("5xx", {"http_5xx_rate": 0.3}),
        ("hangs", {"timeout_rate": 0.2, "hang_seconds": 4.0}),
        ("lost answers", {"lost_answer_rate": 0.3, "lost_answer_mode": rng.choice(["hang", "drop", "http_503"]),
                          "hang_seconds": 4.0}),
        ("kill a replica", None),
        ("restart redis empty", None),
    ]
    rng.shuffle(steps)
    return [s for step in steps for s in (step, ("healthy", HEALTHY))]


class Clients:
    """Tenants' clients on the two replicas, as behind a load balancer: a dead replica's calls go to
    the other."""

    def __init__(self, books: Books) -> None:
        self.books = books
        self._turn = 0
        self._lock = threading.Lock()

    def call(self, action: Callable[[Stack], dict[str, Any]]) -> dict[str, Any] | None:
        replicas = self.books.replicas
        for _ in range(len(replicas.gateways)):
            with self._lock:
                self._turn += 1
                i = self._turn % len(replicas.gateways)
            if not replicas.gateways[i].is_running():
                continue
            try:
                return action(replicas.stack(i))
            except (requests.RequestException, ValueError):
                continue
        return None

    def one_search(self, key: str, seed: int) -> bool:
        """Upload, then search until the result, retrying whatever the gateway answers; True once a
        result came back."""
        deadline = time.monotonic() + SEARCH_DEADLINE_S
        sid: str | None = None
        while sid is None and time.monotonic() < deadline:
            body = self.call(lambda s: upload(s, key, make_image(seed)))
            if body is not None and body["error"] is None:
                sid = body["id_search"]
            else:
                time.sleep(0.3)  # paced: a client backing off
        while sid is not None and time.monotonic() < deadline:
            body = self.call(lambda s: search(s, key, sid))
            if body is not None and body["output"] is not None:
                return True
            time.sleep(0.3)  # paced: a client polling
        return False


class Jobs:
    """Searches handed to client threads: at least the planned number, and more for as long as the
    fault schedule runs, so every fault strikes searches in flight."""

    def __init__(self, keys: list[str], rng: random.Random, schedule: threading.Thread) -> None:
        self._keys, self._rng, self._schedule = keys, rng, schedule
        self._taken = 0
        self._lock = threading.Lock()

    def next(self) -> tuple[str, int] | None:
        with self._lock:
            if self._taken >= TENANTS * SEARCHES_PER_TENANT and not self._schedule.is_alive():
                return None
            self._taken += 1
            return self._rng.choice(self._keys), 7000 + self._taken  # a new image: never a cache hit

    def work(self, clients: Clients) -> list[bool]:
        results = []
        while (job := self.next()) is not None:
            results.append(clients.one_search(*job))
        return results


def run_schedule(books: Books, redis: RedisServer, steps: list[tuple[str, dict[str, Any] | None]],
                 stop: threading.Event, log: list[str]) -> None:
    replicas = books.replicas
    for name, knobs in steps:
        if stop.is_set():
            break
        log.append(name)
        if knobs is not None:
            books.stack.knobs(**knobs)
        elif name == "kill a replica":
            victim = replicas.gateways[1]
            victim.kill()
            stop.wait(STEP_S)
            victim.start()
        else:
            redis.stop()
            stop.wait(STEP_S / 3)
            redis.start_again()
        stop.wait(STEP_S)  # paced: how long each fault lasts
    books.stack.knobs(**HEALTHY)


@pytest.fixture
def chaos_books(postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path) -> Iterator[Books]:
    replicas = launch(tmp_path, postgres_server, redis_server, n=2, circuit_open_seconds=1,
                      tracker_interval_seconds=0.5)
    try:
        yield Books(replicas, postgres_server, redis_server)
    finally:
        redis_server.start_again()
        replicas.stop()


def test_chaos_keeps_the_books(chaos_books: Books, redis_server: RedisServer) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"chaos seed {seed}")  # shown with the failure; CHAOS_SEED replays the schedule
    rng = random.Random(seed)
    books = chaos_books
    tenants = [books.tenant() for _ in range(TENANTS)]
    clients, stop, log = Clients(books), threading.Event(), list[str]()
    schedule = threading.Thread(target=run_schedule, args=(books, redis_server, faults(rng), stop, log))
    jobs = Jobs([key for _, key in tenants], rng, schedule)
    schedule.start()
    try:
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            results = [r for batch in pool.map(lambda _: jobs.work(clients), range(CLIENT_THREADS)) for r in batch]
    finally:
        stop.set()
        schedule.join()
    books.stack.knobs(**HEALTHY)
    context = f"chaos seed {seed}, schedule {log}"
    assert sum(results) >= 50, f"{context}: only {sum(results)} of {len(results)} searches returned a result"
    assert all(g.is_running() for g in books.replicas.gateways), context
    settled(books)
    problems = ledger_problems(books.stack, books.server, books.replicas.database, redis_url=books.redis.url,
                               tenants={tenant_id for tenant_id, _ in tenants})
    assert not problems, f"{context}: the books do not hold:\n" + "\n".join(problems)
    assert_ledger_tells_the_truth(books.stack, books.server, books.replicas.database)
