"""Fault injection and the /_sandbox control routes."""

from __future__ import annotations

import pytest

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
    [{"error_rate": 2}, {"queue_seconds": -1}, {"url_shape": "list"}, {"no_such_knob": 1}, [1], "x"],
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
