"""Fault injection and the /_sandbox control routes."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from app.sandbox.api import AnswerDropped
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, Sandbox, SandboxFactory

ROUTES = ["/api/upload_pic", "/api/search", "/api/delete_pic", "/api/info"]


async def test_http_503_on_every_api_route(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(http_5xx_rate=1.0)
    for route in ROUTES:
        response = await sandbox.client.post(route, headers=AUTH)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "503" in response.text
    assert (await sandbox.client.get("/_sandbox/config")).status_code == 200
    stats = await sandbox.stats()
    assert (stats["http_5xx"], stats["info_calls"], stats["invalid_token"]) == (4, 0, 0)
    await sandbox.configure(http_5xx_rate=0.0)
    assert (await sandbox.info())["is_online"] is True


async def test_partial_5xx_rate_is_seeded(make_sandbox: SandboxFactory) -> None:
    async def pattern(sandbox: Sandbox) -> list[int]:
        return [(await sandbox.client.post("/api/info", headers=AUTH)).status_code for _ in range(40)]

    first = await pattern(make_sandbox(http_5xx_rate=0.5, seed=7))
    second = await pattern(make_sandbox(http_5xx_rate=0.5, seed=7))
    assert first == second
    assert 5 < first.count(503) < 35


async def test_timeout_hangs_then_answers(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(timeout_rate=1.0, hang_seconds=30.0)
    info = await sandbox.info()
    assert info["remaining_credits"] == 1000
    assert sandbox.clock.slept == [30.0]
    assert (await sandbox.stats())["timeouts"] == 1


async def test_latency_is_added_before_everything(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(latency_ms=250, http_5xx_rate=1.0)
    response = await sandbox.client.post("/api/info", headers=AUTH)
    assert response.status_code == 503
    assert sandbox.clock.slept == [0.25]


async def test_config_read_and_partial_update(sandbox: Sandbox) -> None:
    initial = (await sandbox.client.get("/_sandbox/config")).json()
    assert initial["tokens"] == ["sandbox"] and initial["url_shape"] == "string"
    updated = await sandbox.configure(latency_ms=5, url_shape="object")
    assert updated == {**initial, "latency_ms": 5, "url_shape": "object"}
    assert (await sandbox.client.get("/_sandbox/config")).json() == updated


@pytest.mark.parametrize(
    "patch",
    [{"error_rate": 2}, {"queue_seconds": -1}, {"url_shape": "list"}, {"no_such_knob": 1}, [1], "x",
     {"lost_answer_mode": "vanish"}, {"status_error_rate": -0.1}, {"slow_answer_seconds": -1}],
)
async def test_bad_config_is_422_and_changes_nothing(sandbox: Sandbox, patch: object) -> None:
    before = (await sandbox.client.get("/_sandbox/config")).json()
    response = await sandbox.client.post("/_sandbox/config", json=patch)
    assert response.status_code == 422
    assert (await sandbox.client.get("/_sandbox/config")).json() == before


async def test_non_json_config_is_422(sandbox: Sandbox) -> None:
    response = await sandbox.client.post("/_sandbox/config", content=b"{oops")
    assert response.status_code == 422


async def test_reset_clears_searches_stats_and_credits(sandbox: Sandbox) -> None:
    id_search = (await sandbox.upload(make_image(1)))["id_search"]
    await sandbox.search(id_search)
    assert (await sandbox.client.post("/_sandbox/reset")).status_code == 200
    assert (await sandbox.info())["remaining_credits"] == 1000
    assert (await sandbox.search(id_search))["error"] == "Search request not found"
    stats = await sandbox.stats()
    assert stats["uploads"] == 0 and stats["search_submits"] == 0
    assert stats["info_calls"] == 1 and stats["status_polls"] == 0


# -- answer faults: the call was processed, its answer is what goes wrong ------------------------------

async def submit_once(sandbox: Sandbox) -> tuple[str, httpx.Response]:
    id_search = (await sandbox.upload(make_image(1)))["id_search"]
    response = await sandbox.client.post("/api/search", json={"id_search": id_search}, headers=AUTH)
    return id_search, response


async def test_lost_answer_hangs_after_charging(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(lost_answer_rate=1.0, hang_seconds=40.0)
    id_search, response = await submit_once(sandbox)
    assert sandbox.clock.slept == [40.0]  # the answer comes, but only after the client gave up
    assert response.json()["progress"] == 0
    stats = await sandbox.stats()
    assert (stats["credits_spent"], stats["search_submits"], stats["lost_answers"]) == (3, 1, 1)
    # Status checks are never lost: they tell the truth about the run.
    assert (await sandbox.search(id_search, status_only=True))["error"] is None
    assert (await sandbox.stats())["lost_answers"] == 1


async def test_lost_answer_dropped_connection_after_charging(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(lost_answer_rate=1.0, lost_answer_mode="drop")
    with pytest.raises(AnswerDropped):  # in-process; over HTTP the server cuts the connection
        await submit_once(sandbox)
    stats = await sandbox.stats()
    assert (stats["credits_spent"], stats["search_submits"], stats["lost_answers"]) == (3, 1, 1)


async def test_lost_answer_as_503_after_charging(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(lost_answer_rate=1.0, lost_answer_mode="http_503")
    id_search, response = await submit_once(sandbox)
    assert response.status_code == 503 and "503" in response.text
    sandbox.clock.advance(10)
    assert (await sandbox.search(id_search, status_only=True))["progress"] == 100
    assert (await sandbox.stats())["credits_spent"] == 3


async def test_status_errors_while_the_run_goes_on_and_charges(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(status_error_rate=1.0)
    id_search, response = await submit_once(sandbox)
    assert response.json()["error"] is None  # the submit itself is answered
    for _ in range(2):
        body = await sandbox.search(id_search, status_only=True)
        assert (body["error"], body["code"], body["output"]) == ("Search engine is offline.", "EXCEPTION", None)
        sandbox.clock.advance(5)
    await sandbox.configure(status_error_rate=0.0)
    assert (await sandbox.search(id_search, status_only=True))["output"] is not None
    stats = await sandbox.stats()
    assert (stats["credits_spent"], stats["status_errors"], stats["failed_searches"]) == (3, 2, 0)


async def test_slow_answer_then_success(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(slow_answer_rate=1.0, slow_answer_seconds=2.5)
    _, response = await submit_once(sandbox)
    assert response.json()["error"] is None and response.json()["progress"] == 0
    assert sandbox.clock.slept == [2.5, 2.5]  # the upload's answer, then the submit's
    assert (await sandbox.stats())["slow_answers"] == 2


async def test_answer_faults_are_seeded(make_sandbox: SandboxFactory) -> None:
    async def pattern(sandbox: Sandbox) -> list[bool]:
        return [(await submit_once(sandbox))[1].status_code == 503 for _ in range(20)]

    knobs = {"lost_answer_rate": 0.5, "lost_answer_mode": "http_503", "seed": 11}
    first = await pattern(make_sandbox(**knobs))
    assert first == await pattern(make_sandbox(**knobs))
    assert 2 < first.count(True) < 18


async def test_searches_route_is_the_per_search_witness(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(error_rate=0.0)
    kept, _ = await submit_once(sandbox)
    uploaded_only = (await sandbox.upload(make_image(2), make_image(3)))["id_search"]
    await sandbox.configure(error_rate=1.0)
    failed, _ = await submit_once(sandbox)
    sandbox.clock.advance(10)
    rows = {r["id_search"]: r for r in (await sandbox.client.get("/_sandbox/searches")).json()}
    assert {k: v for k, v in rows[kept].items() if k != "sha256"} == {"id_search": kept, "submitted": True,
                                                                      "charged": 3, "pics": 1}
    assert rows[kept]["sha256"] == [hashlib.sha256(make_image(1)).hexdigest()]
    assert rows[failed]["charged"] == 0 and rows[failed]["submitted"] is True  # refunded when it failed
    assert (rows[uploaded_only]["submitted"], rows[uploaded_only]["charged"], rows[uploaded_only]["pics"]) == (
        False, 0, 2)
