"""Limits where the bytes arrive, checked with raw sockets against a served gateway: oversized
headers refused, free-text headers cut before the audit log stores them, an over-declared or
unauthenticated upload refused without `100 Continue` (so its body is never sent), and a stalled
body cut with a coded error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fixtures.audit_log import events
from tests.fixtures.stack import Stack, running_stack

LIMIT = 13 * 1024 * 1024  # MAX_REQUEST_BYTES of the test stack


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("limits"), BODY_TIMEOUT_SECONDS="1") as s:
        yield s


@pytest.fixture(scope="module")
def key(served: Stack) -> str:
    return served.new_tenant("limits")[1]


class Raw:
    """One HTTP/1.1 connection written byte by byte, read as it comes."""

    def __init__(self, stack: Stack) -> None:
        url = urlsplit(stack.url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=30)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self) -> tuple[str, dict[str, str]]:
        """The next response's status line and headers."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed before a response; got {self.buffer!r}"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        return status, {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}

    def response(self) -> tuple[str, dict[str, str], Any]:
        status, headers = self.head()
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed inside a response body"
            self.buffer += chunk
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, json.loads(body)

    def closed_by_server(self) -> bool:
        return self.sock.recv(1) == b""

    def close(self) -> None:
        self.sock.close()


def request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: gateway", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("shape", ["one 1 MB header", "100,000 small headers"])
def test_oversized_headers_are_refused_with_a_code(served: Stack, key: str, shape: str) -> None:
    if shape == "one 1 MB header":
        head = request_head("/api/info", {"Authorization": key, "X-Purpose": "p" * 1_000_000, "Content-Length": "0"})
    else:
        extra = "".join(f"X-H{i}: v\r\n" for i in range(100_000))
        head = request_head("/api/info", {"Authorization": key, "Content-Length": "0"})
        head = head[:-2] + extra.encode() + b"\r\n"
    raw = Raw(served)
    try:
        raw.send(head)
        status, _, body = raw.response()
    finally:
        raw.close()
    assert status.startswith("HTTP/1.1 200"), status  # compat mode: the envelope carries the code
    assert body["code"] == "HEADERS_TOO_LARGE"


def test_free_text_headers_are_cut_before_they_are_stored(served: Stack, key: str) -> None:
    response = served.post("/api/info", key, headers={"X-Purpose": "=" + "p" * 5000, "X-Case-Id": "c" * 3000,
                                                      "User-Agent": "u" * 3000})
    assert response.json().get("is_online") is True
    [event] = events(served, request_id=response.headers["X-Request-ID"])
    assert len(event["purpose"]) == 200 and len(event["case_id"]) == 100 and len(event["user_agent"]) == 256


@pytest.mark.parametrize("authorised", [True, False])
def test_an_over_declared_body_is_refused_without_100_continue(served: Stack, key: str, authorised: bool) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(30_000_000),
               "Expect": "100-continue", **({"Authorization": key} if authorised else {})}
    raw = Raw(served)
    try:
        raw.send(request_head("/api/upload_pic", headers))
        status, response_headers, body = raw.response()  # the first answer is the refusal, not 100 Continue
        assert status.startswith("HTTP/1.1 200"), status
        assert body["code"] == "PAYLOAD_TOO_LARGE"
        assert response_headers["connection"] == "close" and raw.closed_by_server()
    finally:
        raw.close()


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(served: Stack) -> None:
    before = len(events(served, code="INVALID_TOKEN"))
    raw = Raw(served)
    try:
        raw.send(request_head("/api/upload_pic", {"Content-Type": "multipart/form-data; boundary=x",
                                                  "Content-Length": str(LIMIT - 1), "Expect": "100-continue",
                                                  "Authorization": "fcg_" + "n" * 43}))
        status, _, body = raw.response()
    finally:
        raw.close()
    assert status.startswith("HTTP/1.1 200"), status  # never "100 Continue"
    assert body["code"] == "INVALID_TOKEN"
    assert len(events(served, code="INVALID_TOKEN")) == before + 1


def test_a_stalled_body_is_cut_with_a_code(served: Stack, key: str, tmp_path: Path) -> None:
    raw = Raw(served)
    try:
        raw.send(request_head("/api/search", {"Authorization": key, "Content-Type": "application/json",
                                              "Content-Length": "100"}) + b'{"id_search": ')
        status, headers, body = raw.response()  # the client never sends the rest
        assert status.startswith("HTTP/1.1 200"), status
        assert body["code"] == "REQUEST_TIMEOUT"
        assert headers["connection"] == "close" and raw.closed_by_server()
    finally:
        raw.close()
    # the gateway still serves
    assert served.post("/api/info", key).json().get("is_online") is True
