"""The gateway's log is one JSON object per line and never holds a key, a token or an image."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("logs")) as s:
        yield s


def log_entries(stack: Stack) -> list[dict[str, Any]]:
    entries = []
    for line in stack.gateway.log_text().splitlines():
        if not line.strip() or line.startswith("--- start: "):  # the test harness's own marker
            continue
        entry = json.loads(line)  # raises on any line that is not JSON
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def access_lines(stack: Stack, request_id: str) -> list[dict[str, Any]]:
    return [e for e in log_entries(stack) if e.get("request_id") == request_id and e["message"] == "request"]


def test_log_is_json_and_holds_no_key_token_or_image(stack: Stack) -> None:
    _, key = stack.new_tenant("logs")
    image = make_image(801)
    up = stack.post("/api/upload_pic", key, files={"images": ("alice-smith.jpg", image, "image/jpeg")})
    sid = up.json()["id_search"]
    final = search(stack, key, sid, with_progress=False)
    assert final["progress"] == 100
    stack.post("/api/info", headers={"X-API-Key": key})
    stack.post("/api/info", headers={"Authorization": f"Bearer {key}x"})
    stack.post(f"/api/delete_pic?id_search={sid}&id_pic=nope&token={key}", key)
    assert stack.admin("GET", "/admin/tenants").status_code == 200
    assert stack.admin("GET", "/admin/tenants", token=stack.env["ADMIN_TOKEN"] + "x").status_code == 401
    last = stack.post("/api/info", key, headers={"X-Request-ID": "logs-last-request"})
    wait_for(lambda: bool(access_lines(stack, "logs-last-request")), deadline_s=10, what="last access line")

    text = stack.gateway.log_text()
    thumbnail = final["output"]["items"][0]["base64"]
    forbidden = {
        "tenant key": key,
        "key body": key.removeprefix("fcg_"),
        "upstream token": stack.env["FACECHECK_API_TOKEN"],
        "gateway secret": stack.env["GATEWAY_SECRET"],
        "admin token": stack.env["ADMIN_TOKEN"],
        "image as base64": base64.b64encode(image[:300]).decode()[:200],
        "result thumbnail": thumbnail.split(",")[-1][:200],
        "client file name": "alice-smith",
        "query string": "id_pic=nope",
    }
    for what, value in forbidden.items():
        assert value not in text, f"the log holds the {what}"
    assert last.headers["X-Request-ID"] == "logs-last-request"
    assert log_entries(stack)  # every line parsed as JSON


def test_access_line_has_upstream_time_overhead_and_cache(stack: Stack) -> None:
    _, key = stack.new_tenant("access")
    response = stack.post("/api/upload_pic", key, files={"images": ("f.jpg", make_image(802), "image/jpeg")},
                          headers={"X-Request-ID": "logs-upload"})  # fmt: skip
    assert response.json()["error"] is None
    wait_for(lambda: bool(access_lines(stack, "logs-upload")), deadline_s=10, what="upload access line")
    [line] = access_lines(stack, "logs-upload")
    assert line["route"] == "/api/upload_pic" and line["status"] == 200 and line["tenant"].startswith("access-")
    assert line["upstream_ms"] > 0
    assert line["cache"] is None  # the result cache plays no part in an upload
    assert line["code"] is None
    assert line["overhead_ms"] == pytest.approx(max(0.0, line["duration_ms"] - line["upstream_ms"]), abs=0.02)
    assert float(response.headers["X-Gateway-Overhead-Ms"]) <= line["overhead_ms"]
    submitted = stack.post("/api/search", key, json={"id_search": response.json()["id_search"]},
                           headers={"X-Request-ID": "logs-search"})
    assert submitted.headers["X-Cache"] == "MISS"
    wait_for(lambda: bool(access_lines(stack, "logs-search")), deadline_s=10, what="search access line")
    assert access_lines(stack, "logs-search")[0]["cache"] == "miss"

    upload(stack, "fcg_wrong-key", make_image(803))
    stack.post("/api/info", "fcg_wrong-key", headers={"X-Request-ID": "logs-refused"})
    wait_for(lambda: bool(access_lines(stack, "logs-refused")), deadline_s=10, what="refused access line")
    [refused] = access_lines(stack, "logs-refused")
    assert refused["code"] == "INVALID_TOKEN" and refused["tenant"] is None and refused["upstream_ms"] == 0
