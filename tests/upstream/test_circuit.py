"""The circuit breaker, on the client the gateway uses, in front of the in-process sandbox: opens on
consecutive failures, fails new work fast, probes with /api/info, and lets status checks through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from app.errors import UpstreamTimeout, UpstreamUnavailable
from app.sandbox import SandboxConfig, create_sandbox_app
from app.upstream.circuit import CircuitBreaker, CircuitState
from app.upstream.client import ImageFile, UpstreamClient
from tests.fixtures.clock import ManualClock
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import FakeClock

TOKEN = "sandbox"


def state_metric() -> float | None:
    return REGISTRY.get_sample_value("facecheck_gateway_circuit_state")


@dataclass
class Rig:
    client: UpstreamClient
    circuit: CircuitBreaker
    clock: ManualClock
    sandbox: httpx.AsyncClient

    async def knobs(self, **values: Any) -> None:
        assert (await self.sandbox.post("/_sandbox/config", json=values)).status_code == 200

    async def stats(self) -> dict[str, int]:
        body: dict[str, int] = (await self.sandbox.get("/_sandbox/stats")).json()
        return body


def image() -> list[ImageFile]:
    return [ImageFile(make_image(7), "image/jpeg", "jpg")]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sandbox_clock = FakeClock()
    app = create_sandbox_app(SandboxConfig(tokens=[TOKEN], queue_seconds=0, search_seconds=0),
                             clock=sandbox_clock, sleep=sandbox_clock.sleep)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
    clock = ManualClock()
    circuit = CircuitBreaker(clock, failure_threshold=3, open_seconds=10)
    yield Rig(UpstreamClient(http, TOKEN, circuit=circuit), circuit, clock, http)
    await http.aclose()


async def test_opens_after_consecutive_5xx_and_fails_new_work_fast(rig: Rig) -> None:
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.upload_pic(image(), None)
    assert rig.circuit.state == CircuitState.OPEN and state_metric() == 2
    before = await rig.stats()
    for call in (rig.client.upload_pic(image(), None), rig.client.search("x", status_only=False, demo=False)):
        with pytest.raises(UpstreamUnavailable) as refused:
            await call
        assert refused.value.headers["Retry-After"] == "10"
    assert await rig.stats() == before  # nothing reached upstream
    rig.clock.advance(4)
    assert rig.circuit.refuse().headers["Retry-After"] == "6"


async def test_in_band_errors_are_answers_and_a_success_resets_the_count(rig: Rig) -> None:
    await rig.knobs(offline=True)
    for _ in range(5):  # upstream answered "offline": it is up, and said no
        assert (await rig.client.upload_pic(image(), None))["error"]
    assert rig.circuit.state == CircuitState.CLOSED
    await rig.knobs(offline=False, http_5xx_rate=1.0)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.upload_pic(image(), None)
    await rig.knobs(http_5xx_rate=0.0)
    assert (await rig.client.upload_pic(image(), None))["error"] is None
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.upload_pic(image(), None)
    assert rig.circuit.state == CircuitState.CLOSED and rig.circuit.consecutive_failures == 2


async def test_status_checks_pass_while_open_but_do_not_close_it(rig: Rig) -> None:
    id_search = (await rig.client.upload_pic(image(), None))["id_search"]
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.info()
    await rig.knobs(http_5xx_rate=0.0)
    body = await rig.client.search(id_search, status_only=True, demo=False)  # a running search is followed
    assert body["error"] is None
    assert rig.circuit.state == CircuitState.OPEN


async def test_half_open_probe_with_info_fails_then_closes(rig: Rig) -> None:
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.upload_pic(image(), None)
    rig.clock.advance(10)
    assert rig.circuit.probe_due()
    with pytest.raises(UpstreamUnavailable) as refused:  # the probe failed: open again, a full period
        await rig.client.upload_pic(image(), None)
    assert refused.value.headers["Retry-After"] == "10" and rig.circuit.state == CircuitState.OPEN
    stats = await rig.stats()
    assert stats["uploads"] == 0 and stats["http_5xx"] == 4  # three uploads, one probe
    await rig.knobs(http_5xx_rate=0.0)
    rig.clock.advance(10)
    assert (await rig.client.upload_pic(image(), None))["error"] is None  # probe, then the upload
    assert rig.circuit.closed and state_metric() == 0
    stats = await rig.stats()
    assert (stats["info_calls"], stats["uploads"]) == (1, 1)


async def test_an_info_call_is_the_probe_once_due(rig: Rig) -> None:
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await rig.client.info()
    await rig.knobs(http_5xx_rate=0.0)
    await rig.client.info()  # before the period is over: answered, but the circuit stays open
    assert rig.circuit.state == CircuitState.OPEN
    rig.clock.advance(10)
    await rig.client.info()
    assert rig.circuit.closed


async def test_timeouts_and_transport_errors_count() -> None:
    failures: list[Exception] = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                                 httpx.RemoteProtocolError("dropped")]

    def handler(request: httpx.Request) -> httpx.Response:
        raise failures.pop(0)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://upstream")
    circuit = CircuitBreaker(ManualClock(), failure_threshold=3, open_seconds=5)
    client = UpstreamClient(http, TOKEN, circuit=circuit)
    with pytest.raises(UpstreamTimeout):
        await client.search("x", status_only=False, demo=False)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await client.upload_pic(image(), None)
    assert circuit.state == CircuitState.OPEN
    await http.aclose()


async def test_threshold_zero_never_opens(rig: Rig) -> None:
    circuit = CircuitBreaker(rig.clock, failure_threshold=0, open_seconds=10)
    client = UpstreamClient(rig.sandbox, TOKEN, circuit=circuit)
    await rig.knobs(http_5xx_rate=1.0)
    for _ in range(6):
        with pytest.raises(UpstreamUnavailable):
            await client.info()
    assert circuit.state == CircuitState.CLOSED


async def test_calls_during_a_probe_fail_fast() -> None:
    probe_sent, release = asyncio.Event(), asyncio.Event()

    async def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/info":
            probe_sent.set()
            await release.wait()  # the probe is out until the test lets it answer
            return httpx.Response(200, json={"remaining_credits": 9, "is_online": True})
        return httpx.Response(200, json={"id_search": "up-1", "error": None, "input": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream), base_url="http://upstream")
    clock = ManualClock()
    circuit = CircuitBreaker(clock, failure_threshold=1, open_seconds=10)
    client = UpstreamClient(http, TOKEN, circuit=circuit)
    circuit.failure()
    clock.advance(10)
    probing = asyncio.create_task(client.upload_pic(image(), None))
    await probe_sent.wait()
    assert circuit.state == CircuitState.HALF_OPEN and state_metric() == 1
    with pytest.raises(UpstreamUnavailable):
        await client.search("x", status_only=False, demo=False)
    release.set()
    assert (await probing)["id_search"] == "up-1" and circuit.closed
    await http.aclose()
