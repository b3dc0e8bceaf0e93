"""upload_pic: 1 to 3 real images, the three official clients' multipart styles, append, and refusals."""

from __future__ import annotations

import base64
import io
import re

import requests
from PIL import Image

from tests.fixtures.contract import validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import AUTH, Sandbox

ID_SEARCH = re.compile(r"^[a-z0-9]{6}-[A-Za-z0-9_-]{17}$")
PREFIX = "data:image/webp;base64,"


def decode_webp(data_uri: str) -> Image.Image:
    assert data_uri.startswith(PREFIX)
    image = Image.open(io.BytesIO(base64.b64decode(data_uri.removeprefix(PREFIX))))
    assert image.format == "WEBP"
    return image


async def test_upload_one_to_three_images(sandbox: Sandbox) -> None:
    for count in (1, 2, 3):
        body = await sandbox.upload(*(make_image(seed, "PNG") for seed in range(count)))
        validate_envelope(body)
        assert ID_SEARCH.match(body["id_search"])
        assert body["message"] == f"Uploaded {count} image(s)."
        assert (body["error"], body["code"], body["progress"], body["output"]) == (None, None, None, None)
        assert len(body["input"]) == count
        assert len({pic["id_pic"] for pic in body["input"]}) == count
        for pic in body["input"]:
            assert pic["svg_anim"] is None and pic["url_source"] is None
            assert max(decode_webp(pic["base64"]).size) <= 96


async def test_each_upload_gets_a_fresh_id(sandbox: Sandbox) -> None:
    first = await sandbox.upload(make_image(1))
    second = await sandbox.upload(make_image(1))
    assert first["id_search"] != second["id_search"]


async def test_node_style_empty_id_search_means_new_search(sandbox: Sandbox) -> None:
    body = await sandbox.upload(make_image(1), id_search="")
    assert body["error"] is None
    assert ID_SEARCH.match(body["id_search"])


async def test_python_requests_style_body(sandbox: Sandbox) -> None:
    """The exact bytes ``requests`` builds for the official Python example (``id_search: None`` dropped)."""
    prepared = requests.Request(
        "POST",
        "http://sandbox/api/upload_pic",
        headers=AUTH,
        files={"images": make_image(7)},
        data={"id_search": None},
    ).prepare()
    assert isinstance(prepared.body, bytes)
    assert b'name="id_search"' not in prepared.body
    response = await sandbox.client.post("/api/upload_pic", content=prepared.body, headers=dict(prepared.headers))
    assert response.json()["message"] == "Uploaded 1 image(s)."


async def test_java_style_raw_multipart(sandbox: Sandbox) -> None:
    """No per-part Content-Type and no space before ``filename=``, as the Java example sends."""
    boundary = "----JavaBoundary7MA4YWxk"
    head = f'--{boundary}\r\nContent-Disposition: form-data;name="images";filename="x.jpg"\r\n\r\n'
    body = head.encode() + make_image(5) + f"\r\n--{boundary}--\r\n".encode()
    headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = await sandbox.client.post("/api/upload_pic", content=body, headers=headers)
    result = response.json()
    assert result["error"] is None, result["error"]
    assert len(result["input"]) == 1
    validate_envelope(result)


async def test_append_up_to_three_then_refuse(sandbox: Sandbox) -> None:
    first = await sandbox.upload(make_image(1))
    id_search = first["id_search"]
    second = await sandbox.upload(make_image(2), make_image(3), id_search=id_search)
    assert second["id_search"] == id_search
    assert second["message"] == "Uploaded 2 image(s)."
    assert [p["id_pic"] for p in second["input"][:1]] == [first["input"][0]["id_pic"]]
    assert len(second["input"]) == 3
    fourth = await sandbox.upload(make_image(4), id_search=id_search)
    assert fourth["error"] and "at most 3" in fourth["error"]
    assert fourth["code"] == "EXCEPTION"
    assert fourth["id_search"] == id_search
    validate_envelope(fourth)


async def test_more_than_three_in_one_call_is_refused(sandbox: Sandbox) -> None:
    body = await sandbox.upload(*(make_image(seed) for seed in range(4)))
    assert body["code"] == "EXCEPTION"
    assert body["input"] is None
    assert (await sandbox.stats())["uploads"] == 0


async def test_non_image_is_refused(sandbox: Sandbox) -> None:
    body = await sandbox.upload(b"%PDF-1.4 definitely not a face")
    assert body["error"] == "The uploaded file is not a valid image."
    assert body["code"] == "EXCEPTION"
    validate_envelope(body)
    truncated = await sandbox.upload(make_image(1)[:200])
    assert truncated["code"] == "EXCEPTION"
    assert (await sandbox.stats())["uploads"] == 0


async def test_append_to_unknown_or_submitted_search_is_refused(sandbox: Sandbox) -> None:
    unknown = await sandbox.upload(make_image(1), id_search="zzzzzz-AAAAAAAAAAAAAAAAA")
    assert unknown["error"] == "Search request not found"
    first = await sandbox.upload(make_image(1))
    await sandbox.search(first["id_search"])
    late = await sandbox.upload(make_image(2), id_search=first["id_search"])
    assert late["error"] and "already submitted" in late["error"]


async def test_no_images_or_not_multipart_is_an_error_not_a_crash(sandbox: Sandbox) -> None:
    empty = await sandbox.client.post("/api/upload_pic", data={"id_search": ""}, headers=AUTH)
    assert empty.status_code == 200 and empty.json()["code"] == "EXCEPTION"
    as_json = await sandbox.client.post("/api/upload_pic", json={"images": []}, headers=AUTH)
    assert as_json.status_code == 200 and as_json.json()["code"] == "EXCEPTION"
    broken_headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}
    broken = await sandbox.client.post("/api/upload_pic", content=b"--xyz\r\nnonsense", headers=broken_headers)
    assert broken.status_code == 200 and broken.json()["code"] == "EXCEPTION"
    text_part = await sandbox.client.post("/api/upload_pic", data={"images": "abc"}, headers=AUTH)
    assert text_part.status_code == 200 and text_part.json()["code"] == "EXCEPTION"
