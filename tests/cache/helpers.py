"""Calls the cache tests make: upload an image set, run its search, and read how the cache played."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.facecheck.test_api import upload
from tests.fixtures.stack import Stack
from tests.images import make_image


@dataclass
class Reply:
    body: dict[str, Any]
    x_cache: str | None


def images(*seeds: int) -> list[bytes]:
    return [make_image(seed) for seed in seeds]


def new_search(stack: Stack, key: str, pics: list[bytes]) -> str:
    body = upload(stack, key, *pics)
    assert body["error"] is None, body
    sid: str = body["id_search"]
    return sid


def ask(stack: Stack, key: str, sid: str, *, fresh: bool = False, **flags: Any) -> Reply:
    payload = {"id_search": sid, "with_progress": True, "status_only": False, "demo": False, **flags}
    headers = {"Cache-Control": "no-cache"} if fresh else {}
    response = stack.post("/api/search", key, json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return Reply(response.json(), response.headers.get("X-Cache"))


def run(stack: Stack, key: str, pics: list[bytes], *, fresh: bool = False) -> tuple[str, Reply]:
    """Upload the images and search until the result is final (the gateway waits for it)."""
    sid = new_search(stack, key, pics)
    reply = ask(stack, key, sid, fresh=fresh, with_progress=False)
    return sid, reply


def final_output(reply: Reply) -> dict[str, Any]:
    assert reply.body["error"] is None, reply.body
    assert reply.body["progress"] == 100 and reply.body["output"] is not None, reply.body
    output: dict[str, Any] = reply.body["output"]
    return output
