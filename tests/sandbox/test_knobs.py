"""Shape knobs: the drift seen in the wild (url object, bare base64, newer fields)."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import Sandbox, SandboxFactory


async def finished(sandbox: Sandbox, *seeds: int) -> dict[str, Any]:
    upload = await sandbox.upload(*(make_image(seed) for seed in seeds or (1,)))
    await sandbox.search(upload["id_search"])
    sandbox.clock.advance(10)
    return await sandbox.search(upload["id_search"])


def is_webp(b64: str) -> bool:
    return Image.open(io.BytesIO(base64.b64decode(b64, validate=True))).format == "WEBP"


async def test_url_object_shape(make_sandbox: SandboxFactory) -> None:
    body = await finished(make_sandbox(url_shape="object"))
    for item in body["output"]["items"]:
        assert set(item["url"]) == {"value"}
        assert item["url"]["value"].startswith("https://")


async def test_url_string_shape_uses_reserved_domains(sandbox: Sandbox) -> None:
    body = await finished(sandbox)
    reserved = (".example", ".example.com", ".example.org", ".example.net", ".test", ".invalid")
    for item in body["output"]["items"]:
        host = item["url"].removeprefix("https://").split("/")[0]
        assert host.endswith(reserved), host


async def test_base64_without_prefix(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(base64_prefix=False)
    upload = await sandbox.upload(make_image(1))
    assert is_webp(upload["input"][0]["base64"])
    body = await finished(sandbox)
    assert all(is_webp(item["base64"]) for item in body["output"]["items"])


async def test_base64_with_prefix_is_real_webp(sandbox: Sandbox) -> None:
    body = await finished(sandbox)
    for item in body["output"]["items"]:
        assert item["base64"].startswith("data:image/webp;base64,")
        assert is_webp(item["base64"].split(",", 1)[1])


async def test_extra_fields(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(extra_fields=True)
    upload = await sandbox.upload(make_image(1))
    assert upload["hasEmptyImages"] is False
    body = await finished(sandbox)
    assert body["hasEmptyImages"] is False
    assert body["output"]["scaned_till_index"] == body["output"]["searchedFaces"]
    assert all(isinstance(item["seen"], int) for item in body["output"]["items"])


async def test_knobs_change_at_runtime(sandbox: Sandbox) -> None:
    await sandbox.configure(url_shape="object", extra_fields=True)
    body = await finished(sandbox)
    assert isinstance(body["output"]["items"][0]["url"], dict)
    assert "seen" in body["output"]["items"][0]
