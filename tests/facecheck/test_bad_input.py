"""Every malformed request gets a FaceCheck envelope with a specific code: never a 500, never HTML,
and nothing half-written (a refused upload leaves no search behind and costs no upstream call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.fixtures.api import delta, upload
from tests.fixtures.contract import validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.stack import Stack, start_stack

Call = Callable[[Stack, str], requests.Response]


def _files(*parts: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("images", (name, data, "image/jpeg")) for name, data in parts]


def _revoked_key(stack: Stack, key: str) -> str:
    name, new_key = stack.new_tenant("revoked")
    key_id = stack.cli_json("keys", "list", name)[0]["id"]
    stack.cli_json("keys", "revoke", key_id)
    return new_key


CASES: dict[str, tuple[Call, str, int]] = {
    "missing key": (lambda s, k: s.post("/api/info"), "INVALID_TOKEN", 401),
    "wrong key": (lambda s, k: s.post("/api/info", "fcg_" + "x" * 43), "INVALID_TOKEN", 401),
    "revoked key": (lambda s, k: s.post("/api/info", _revoked_key(s, k)), "INVALID_TOKEN", 401),
    "no images": (lambda s, k: s.post("/api/upload_pic", k, files={"id_search": (None, "")}), "NO_IMAGES", 400),
    "four images": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(*[(f"{i}.jpg", make_image(i)) for i in range(4)])),
        "TOO_MANY_IMAGES", 400,
    ),
    "text named .jpg": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(("face.jpg", b"just some text, not a face"))),
        "BAD_IMAGE", 422,
    ),
    "truncated jpeg": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(("face.jpg", make_image(3, size=(300, 300))[:900]))),
        "BAD_IMAGE", 422,
    ),
    "50 MB body": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(("big.jpg", b"\xff\xd8\xff" + b"\0" * 50_000_000))),
        "PAYLOAD_TOO_LARGE", 413,
    ),
    "image over the per-image limit": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(("big.jpg", b"\xff\xd8\xff" + b"\0" * 5_000_000))),
        "PAYLOAD_TOO_LARGE", 413,
    ),
    "malformed json": (
        lambda s, k: s.post("/api/search", k, data=b"{not json", headers={"Content-Type": "application/json"}),
        "BAD_REQUEST", 400,
    ),
    "missing id_search": (lambda s, k: s.post("/api/search", k, json={"demo": True}), "BAD_REQUEST", 400),
    "unknown id_search": (lambda s, k: s.post("/api/search", k, json={"id_search": "nope" * 8}), "NOT_FOUND", 404),
    "unknown id on delete": (
        lambda s, k: s.post("/api/delete_pic", k, params={"id_search": "nope", "id_pic": "x"}), "NOT_FOUND", 404,
    ),
    "unknown id on append": (
        lambda s, k: s.post("/api/upload_pic", k, files=_files(("a.jpg", make_image(5))), data={"id_search": "nope"}),
        "NOT_FOUND", 404,
    ),
    "search as text/plain": (
        lambda s, k: s.post("/api/search", k, data=b'{"id_search": "a"}', headers={"Content-Type": "text/plain"}),
        "UNSUPPORTED_MEDIA_TYPE", 415,
    ),
    "upload as json": (lambda s, k: s.post("/api/upload_pic", k, json={"images": []}), "UNSUPPORTED_MEDIA_TYPE", 415),
    "multipart without boundary": (
        lambda s, k: s.post("/api/upload_pic", k, data=b"xx", headers={"Content-Type": "multipart/form-data"}),
        "BAD_REQUEST", 400,
    ),
    "GET instead of POST": (lambda s, k: s.http.get(s.url + "/api/search", headers={"Authorization": k}),
                            "METHOD_NOT_ALLOWED", 405),
    "unknown endpoint": (lambda s, k: s.post("/api/no_such_thing", k), "NOT_FOUND", 404),
}  # fmt: skip


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    return stack.new_tenant("bad-input")[1]


@pytest.mark.parametrize("case", list(CASES))
def test_compat_mode_answers_200_with_a_specific_code(stack: Stack, key: str, case: str) -> None:
    call, code, _status = CASES[case]
    before = stack.stats()
    response = call(stack, key)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    body = response.json()
    validate_envelope(body)
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert body["output"] is None and body["input"] is None
    moved = delta(before, stack.stats())
    assert moved["uploads"] == moved["search_submits"] == 0, "a refused call must cost no upstream work"


@pytest.fixture(scope="module")
def http_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("http-mode"), API_ERROR_STATUS="http")
    try:
        yield s
    finally:
        s.gateway.terminate()
        s.sandbox.terminate()


@pytest.fixture(scope="module")
def http_key(http_stack: Stack) -> str:
    return http_stack.new_tenant("http")[1]


@pytest.mark.parametrize("case", list(CASES))
def test_http_mode_uses_the_matching_status(http_stack: Stack, http_key: str, case: str) -> None:
    call, code, status = CASES[case]
    response = call(http_stack, http_key)
    assert response.status_code == status, response.text[:300]
    assert response.json()["code"] == code


def test_refused_upload_leaves_nothing_behind(stack: Stack, key: str) -> None:
    ok = upload(stack, key, make_image(7))
    assert ok["error"] is None
    bad = upload(stack, key, make_image(8), b"garbage")
    assert bad["code"] == "BAD_IMAGE"
    # the good search is still the only one: appending a real image to it works
    again = upload(stack, key, make_image(9), id_search=ok["id_search"])
    assert again["error"] is None and len(again["input"]) == 2


def test_unexpected_request_shapes_do_not_500(stack: Stack, key: str) -> None:
    shapes: list[dict[str, Any]] = [
        {"json": {"id_search": 12345}},
        {"json": {"id_search": ["a"]}},
        {"json": {"id_search": "a" * 10_000}},
        {"json": {"id_search": "../../etc/passwd"}},
        {"json": {"id_search": "a", "with_progress": {"x": 1}}},
        {"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}},
    ]
    for shape in shapes:
        response = stack.post("/api/search", key, **shape)
        assert response.status_code == 200
        assert response.json()["code"] in {"BAD_REQUEST", "NOT_FOUND"}, (shape, response.text)
