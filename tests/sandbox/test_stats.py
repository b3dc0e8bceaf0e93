"""The counters tests elsewhere rely on to prove what reached the upstream: exact values."""

from __future__ import annotations

from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, SandboxFactory


async def test_counters_are_exact(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(initial_credits=6)
    a = await sandbox.upload(make_image(1), make_image(2))  # uploads 1
    await sandbox.upload(make_image(3), id_search=a["id_search"])  # uploads 2
    await sandbox.upload(b"not an image")  # refused: no count
    b = await sandbox.upload(make_image(4))  # uploads 3
    c = await sandbox.upload(make_image(5))  # uploads 4

    await sandbox.search(a["id_search"], status_only=True)  # status poll 1
    await sandbox.search(a["id_search"])  # submit 1, 3 credits
    await sandbox.search(a["id_search"])  # status poll 2, duplicate 1
    await sandbox.search(a["id_search"], status_only=True)  # status poll 3
    await sandbox.search(b["id_search"], demo=True)  # submit 2, free
    await sandbox.configure(error_rate=1.0)
    await sandbox.search(c["id_search"])  # submit 3, 3 credits, will fail
    await sandbox.search(a["id_search"])  # status poll 4, duplicate 2
    await sandbox.search("nope00-AAAAAAAAAAAAAAAAA")  # unknown: no count
    await sandbox.configure(error_rate=0.0)
    d = await sandbox.upload(make_image(6))  # uploads 5
    await sandbox.search(d["id_search"])  # refused for credits: status poll 5

    await sandbox.delete(a["id_search"], a["input"][0]["id_pic"])  # deletes 1
    await sandbox.delete(a["id_search"], "missing")  # no count
    await sandbox.info()  # info 1
    await sandbox.client.post("/api/info", headers={"Authorization": "bad"})  # invalid token 1
    await sandbox.configure(http_5xx_rate=1.0)
    await sandbox.client.post("/api/info", headers=AUTH)  # http_5xx 1
    await sandbox.configure(http_5xx_rate=0.0, timeout_rate=1.0, hang_seconds=1.0)
    await sandbox.info()  # info 2, timeout 1
    await sandbox.configure(timeout_rate=0.0)

    before_end = await sandbox.stats()
    assert before_end["credits_spent"] == 6 and before_end["failed_searches"] == 0
    sandbox.clock.advance(10)  # every run ends; the failed one is refunded
    assert await sandbox.stats() == {
        "uploads": 5,
        "search_submits": 3,
        "status_polls": 5,
        "duplicate_submits": 2,
        "deletes": 1,
        "info_calls": 2,
        "credits_spent": 3,
        "failed_searches": 1,
        "http_5xx": 1,
        "timeouts": 1,
        "lost_answers": 0,
        "status_errors": 0,
        "slow_answers": 0,
        "invalid_token": 1,
    }
    assert (await sandbox.info())["remaining_credits"] == 3
