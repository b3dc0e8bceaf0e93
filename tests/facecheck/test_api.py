"""The drop-in surface end to end: gateway and sandbox as processes, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.api import delta, search, upload
from tests.fixtures.contract import validate, validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.official_client import search_by_face
from tests.fixtures.stack import Stack


@pytest.fixture(scope="module")
def alice(stack: Stack) -> str:
    return stack.new_tenant("alice")[1]


def test_official_client_works_unchanged(stack: Stack, alice: str, tmp_path: Path) -> None:
    image = tmp_path / "face.jpg"
    image.write_bytes(make_image(101))
    before = stack.stats()
    error, items = search_by_face(stack.url, alice, image, testing_mode=True)
    assert error is None
    assert items and all(0 <= item["score"] <= 100 for item in items)
    moved = delta(before, stack.stats())
    assert moved["uploads"] == 1
    assert moved["search_submits"] == 1
    assert moved["duplicate_submits"] == 0  # every later poll went upstream as a status check


def test_bearer_and_x_api_key_headers_work(stack: Stack, alice: str) -> None:
    for headers in ({"Authorization": f"Bearer {alice}"}, {"X-API-Key": alice}):
        body = stack.post("/api/info", headers=headers).json()
        assert body["is_online"] is True, body


def test_every_response_validates_against_the_contract(stack: Stack, alice: str) -> None:
    up = upload(stack, alice, make_image(102), make_image(103))
    validate_envelope(up)
    assert isinstance(up["message"], str) and up["message"]
    assert len(up["input"]) == 2
    sid = up["id_search"]

    not_started = search(stack, alice, sid, status_only=True)
    validate_envelope(not_started)
    assert not_started["output"] is None

    running = search(stack, alice, sid)
    validate_envelope(running)
    assert running["output"] is None and (running["progress"] or 0) < 100

    final = search(stack, alice, sid, with_progress=False)
    validate_envelope(final)
    assert final["output"] is not None and final["progress"] == 100
    assert final["output"]["images_in_bundle"] == 2

    deleted = stack.post("/api/delete_pic", alice, params={"id_search": sid, "id_pic": up["input"][0]["id_pic"]})
    validate_envelope(deleted.json())

    info = stack.post("/api/info", alice).json()
    validate(info, "InfoResponse")

    error = stack.post("/api/search", "fcg_wrong", json={"id_search": sid}).json()
    validate_envelope(error)


def test_gateway_mints_its_own_opaque_id(stack: Stack, alice: str) -> None:
    ids = {upload(stack, alice, make_image(104))["id_search"] for _ in range(3)}
    assert len(ids) == 3
    for sid in ids:
        assert len(sid) >= 22  # >= 128 bits of url-safe base64
        assert "-s_" not in sid  # not the upstream's format


def test_concurrent_first_submits_start_one_upstream_search(stack: Stack, alice: str) -> None:
    sid = upload(stack, alice, make_image(105))["id_search"]
    before = stack.stats()
    with ThreadPoolExecutor(max_workers=10) as pool:
        bodies = list(pool.map(lambda _: search(stack, alice, sid), range(10)))
    assert all(b["error"] is None and b["id_search"] == sid for b in bodies), bodies
    moved = delta(before, stack.stats())
    assert moved["search_submits"] == 1
    assert moved["duplicate_submits"] == 0
    final = search(stack, alice, sid, with_progress=False)
    assert final["progress"] == 100 and final["output"]["items"]
    assert delta(before, stack.stats())["search_submits"] == 1


def test_status_only_never_submits(stack: Stack, alice: str) -> None:
    sid = upload(stack, alice, make_image(106))["id_search"]
    before = stack.stats()
    for _ in range(3):
        body = search(stack, alice, sid, status_only=True)
        assert body["error"] is None and body["output"] is None
    assert delta(before, stack.stats())["search_submits"] == 0


def test_output_only_with_progress_100(stack: Stack, alice: str) -> None:
    sid = upload(stack, alice, make_image(107))["id_search"]
    first = search(stack, alice, sid)
    assert first["output"] is None and first["progress"] != 100
    final = search(stack, alice, sid, with_progress=False)
    assert final["output"] is not None and final["progress"] == 100
    again = search(stack, alice, sid)  # a finished search keeps answering its result
    assert again["output"] == final["output"] and again["progress"] == 100


def test_java_style_multipart(stack: Stack, alice: str) -> None:
    """Java's client sends no per-part Content-Type and no space before filename=."""
    boundary = "JavaBoundary1234"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data;name=\"images\";filename=\"face.jpg\"\r\n\r\n".encode()
        + make_image(108)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = stack.post("/api/upload_pic", alice, data=body, headers=headers).json()
    assert response["error"] is None, response
    assert len(response["input"]) == 1
    validate_envelope(response)


def test_node_style_empty_id_search_means_new_search(stack: Stack, alice: str) -> None:
    files = {"images": ("face.jpg", make_image(109), "image/jpeg")}
    body = stack.post("/api/upload_pic", alice, files=files, data={"id_search": ""}).json()
    assert body["error"] is None and body["id_search"]


def test_append_then_delete_then_no_append_after_submit(stack: Stack, alice: str) -> None:
    first = upload(stack, alice, make_image(110))
    sid = first["id_search"]
    second = upload(stack, alice, make_image(111), id_search=sid)
    assert second["error"] is None and second["id_search"] == sid
    assert len(second["input"]) == 2
    gone = stack.post("/api/delete_pic", alice, params={"id_search": sid, "id_pic": second["input"][0]["id_pic"]})
    assert gone.json()["error"] is None and len(gone.json()["input"]) == 1
    search(stack, alice, sid)
    late = upload(stack, alice, make_image(112), id_search=sid)
    assert late["code"] == "SEARCH_ALREADY_SUBMITTED"


def test_unknown_upstream_fields_and_shapes_pass_through(sandbox_defaults: Stack, alice: str) -> None:
    stack = sandbox_defaults
    stack.knobs(url_shape="object", base64_prefix=False, extra_fields=True)
    sid = upload(stack, alice, make_image(113))["id_search"]
    final = search(stack, alice, sid, with_progress=False)
    assert "hasEmptyImages" in final
    assert "scaned_till_index" in final["output"]
    item = final["output"]["items"][0]
    assert isinstance(item["url"], dict) and "value" in item["url"]
    assert not item["base64"].startswith("data:")
    assert "seen" in item

    stack.knobs(url_shape="string", base64_prefix=True, extra_fields=False)
    sid = upload(stack, alice, make_image(114))["id_search"]
    item = search(stack, alice, sid, with_progress=False)["output"]["items"][0]
    assert isinstance(item["url"], str) and item["base64"].startswith("data:image/webp;base64,")


def test_upstream_in_band_search_error_passes_through(sandbox_defaults: Stack, alice: str) -> None:
    stack = sandbox_defaults
    stack.knobs(error_rate=1.0)
    sid = upload(stack, alice, make_image(115))["id_search"]
    body = search(stack, alice, sid, with_progress=False)
    assert body["error"] and body["code"] == "EXCEPTION"
    assert body["id_search"] == sid and body["output"] is None


def test_upstream_5xx_then_retry_submits_once(sandbox_defaults: Stack, alice: str) -> None:
    stack = sandbox_defaults
    sid = upload(stack, alice, make_image(116))["id_search"]
    stack.knobs(http_5xx_rate=1.0)
    unknown = search(stack, alice, sid)  # a 5xx says nothing of whether it started: held, in progress
    assert unknown["error"] is None and unknown["output"] is None and unknown["id_search"] == sid
    assert upload(stack, alice, make_image(117))["code"] == "UPSTREAM_UNAVAILABLE"
    stack.knobs(http_5xx_rate=0.0)
    before = stack.stats()
    retried = search(stack, alice, sid, with_progress=False)  # never started upstream: refunded, submitted now
    assert retried["error"] is None and retried["progress"] == 100
    assert delta(before, stack.stats())["search_submits"] == 1


def test_upstream_hang_is_a_timeout(sandbox_defaults: Stack, alice: str) -> None:
    stack = sandbox_defaults
    stack.knobs(timeout_rate=1.0, hang_seconds=10)
    body = stack.post("/api/info", alice).json()
    assert body["code"] == "UPSTREAM_TIMEOUT" and body["error"]


def test_logs_never_hold_keys_tokens_or_images(stack: Stack, alice: str) -> None:
    image = make_image(118)
    upload(stack, alice, image)
    stack.post("/api/info", "fcg_definitely_not_a_key_0000000000000000")
    log = stack.gateway.log_text()
    assert '"route":"/api/upload_pic"' in log  # the log is there and is the JSON access log
    assert alice not in log
    assert "fcg_definitely_not_a_key" not in log
    assert "sandbox-upstream-token" not in log
    assert "/9j/" not in log  # base64 of JPEG bytes
