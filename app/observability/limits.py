"""Pure ASGI limits applied where the bytes arrive, before any route, parser or store sees them.

Headers: their total size is bounded (431), and the free-text ones the audit log keeps are cut to
the lengths it stores. Bodies: a declared length over the limit is refused before the first
`receive()` (the server sends `100 Continue` only at that first call, so a client that asked for
it never sends the body); a body that outgrows the limit as it streams is cut; a body that stalls
longer than the timeout between two chunks is cut with REQUEST_TIMEOUT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import HeadersTooLarge, PayloadTooLarge, RequestTimeout
from app.observability.middleware import answer_error

# Closing after the answer is safe only when the client is not sending (it waits for `100 Continue`,
# or has stalled): closing under a body still arriving resets the connection, losing the answer. A
# body that keeps coming is read and discarded by the server after the answer instead.
_CLOSE = {"Connection": "close"}


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, clip: Mapping[bytes, int], http_status: bool) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.clip = dict(clip)
        self.http_status = http_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        total = sum(len(name) + len(value) + 4 for name, value in headers)  # as sent: "name: value\r\n"
        if total > self.max_bytes:
            error = HeadersTooLarge(f"Request headers take {total} bytes; the limit is {self.max_bytes} bytes.",
                                    headers=_CLOSE)
            await answer_error(error, path=scope["path"], http_status=self.http_status)(scope, receive, send)
            return
        if any(name in self.clip and len(value) > self.clip[name] for name, value in headers):
            scope["headers"] = [(name, value[: self.clip.get(name, len(value))]) for name, value in headers]
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, timeout: float, http_status: bool) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.http_status = http_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.limit:
            waiting = _header(scope, b"expect").lower() == b"100-continue"
            error = PayloadTooLarge(f"Request body is {int(declared)} bytes; the limit is {self.limit} bytes.",
                                    headers=_CLOSE if waiting else None)
            await answer_error(error, path=scope["path"], http_status=self.http_status)(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            try:  # asyncio's own timeout: a tenth of the cost of anyio's cancel scope, per chunk
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(f"The request body stalled for over {self.timeout:g} s; send it without "
                                     "pausing.", headers=_CLOSE) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(f"Request body exceeds the limit of {self.limit} bytes.")
            return message

        await self.app(scope, bounded, send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""
