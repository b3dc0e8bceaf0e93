"""The FaceCheck client: plain values in, upstream's envelope out; generic file names; only
idempotent calls retried; transport failures and in-band errors become gateway errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.errors import UpstreamError, UpstreamUnavailable
from app.sandbox import SandboxConfig, create_sandbox_app
from app.upstream.client import ImageFile, UpstreamClient, raise_in_band
from tests.fixtures.images import make_image

TOKEN = "client-test-token"


@pytest.fixture
async def sandboxed() -> AsyncIterator[UpstreamClient]:
    """The client on the simulator, in process (as the embedded mode serves it)."""
    app = create_sandbox_app(SandboxConfig(tokens=[TOKEN], queue_seconds=0, search_seconds=0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        yield UpstreamClient(http, TOKEN)


def _jpeg(seed: int) -> ImageFile:
    return ImageFile(make_image(seed), "image/jpeg", "jpg")


async def test_upload_then_search_to_the_end(sandboxed: UpstreamClient) -> None:
    uploaded = await sandboxed.upload_pic([_jpeg(1), _jpeg(2)], None)
    assert uploaded["error"] is None and isinstance(uploaded["id_search"], str)
    assert len(uploaded["input"]) == 2
    body = await sandboxed.search(uploaded["id_search"], status_only=False, demo=True)
    for _ in range(50):  # each call is one step of the simulator's (zero-second) queue
        if body.get("output") is not None:
            break
        body = await sandboxed.search(uploaded["id_search"], status_only=True, demo=True)
    assert body["output"]["items"]


async def test_upload_names_files_generically() -> None:
    """The client's own file names may say who is in the picture: they never leave the gateway."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.read())
        return httpx.Response(200, json={"id_search": "up-1", "input": [], "error": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://up") as http:
        await UpstreamClient(http, TOKEN).upload_pic([_jpeg(3), _jpeg(4)], None)
    assert b'filename="image1.jpg"' in seen[0] and b'filename="image2.jpg"' in seen[0]


async def test_status_checks_are_retried_but_submits_never() -> None:
    calls: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(b'"status_only":true' in request.read().replace(b" ", b""))
        if len(calls) == 1 or not calls[-1]:
            return httpx.Response(503)
        return httpx.Response(200, json={"id_search": "up-1", "progress": 50, "error": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://up") as http:
        client = UpstreamClient(http, TOKEN)
        status = await client.search("up-1", status_only=True, demo=False)
        assert status["progress"] == 50 and calls == [True, True]
        calls.clear()
        with pytest.raises(UpstreamUnavailable):
            await client.search("up-1", status_only=False, demo=False)
        assert calls == [False]


def test_in_band_errors_keep_upstream_code() -> None:
    with pytest.raises(UpstreamError) as raised:
        raise_in_band({"error": "No credits.", "code": "NO_CREDITS"}, "gw-1")
    assert (raised.value.upstream_code, raised.value.id_search) == ("NO_CREDITS", "gw-1")
    raise_in_band({"error": None, "output": None}, "gw-1")  # no error: nothing raised
