"""FaceCheck client on one shared httpx.AsyncClient.

Transport failures become UPSTREAM_UNAVAILABLE / UPSTREAM_TIMEOUT here, where they happen.
Only idempotent calls (status checks, info) are retried: a submit or an upload is never
sent twice by the gateway, because a duplicate could cost money or create a second search.
New uploads and submits pass the circuit breaker first (circuit.py), and every attempt's outcome
feeds it. Every attempt is timed here, the one place all upstream traffic passes: its metrics, and the
current request's time spent on upstream, so the gateway's own overhead can be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.errors import GatewayError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from app.observability import metrics
from app.observability.context import add_upstream_time
from app.observability.metrics import UpstreamEndpoint, UpstreamOutcome
from app.upstream.circuit import CircuitBreaker

_RETRYABLE_STATUS = frozenset({502, 503, 504})

Body = dict[str, Any]  # a FaceCheck JSON answer (and the envelope the gateway answers with)


@dataclass(frozen=True, slots=True)
class ImageFile:
    """One image to upload: its bytes, and the type and file extension they were checked to be."""

    data: bytes
    content_type: str
    extension: str


@dataclass(slots=True)
class _Attempt:
    outcome: UpstreamOutcome = "unavailable"


@contextmanager
def _measured(endpoint: UpstreamEndpoint) -> Iterator[_Attempt]:
    """Time one upstream call: its metrics, and the current request's time spent on upstream."""
    attempt = _Attempt()
    started = time.perf_counter()
    try:
        yield attempt
    finally:
        elapsed = time.perf_counter() - started
        add_upstream_time(elapsed)
        metrics.observe_upstream(endpoint, attempt.outcome, elapsed)


async def wait_on_upstream(seconds: float) -> None:
    """Sleep between status checks of a search upstream is still running: the request is waiting
    on upstream, so the pause does not count as gateway overhead."""
    started = time.perf_counter()
    try:
        await asyncio.sleep(seconds)
    finally:
        add_upstream_time(time.perf_counter() - started)


class UpstreamClient:
    def __init__(self, http: httpx.AsyncClient, token: str, *, retries: int = 1,
                 circuit: CircuitBreaker | None = None) -> None:
        self._http = http
        self._headers = {"Authorization": token, "Accept": "application/json"}
        self._retries = retries
        self.circuit = circuit
        self._probe_lock = asyncio.Lock()

    async def upload_pic(self, images: Sequence[ImageFile], id_search: str | None) -> Body:
        # Generic file names: the client's own names may say who is in the picture.
        files = [("images", (f"image{i}.{img.extension}", img.data, img.content_type))
                 for i, img in enumerate(images, start=1)]
        data = {"id_search": id_search} if id_search else None
        await self.admit()
        return await self._post("upload_pic", "/api/upload_pic", idempotent=False, files=files, data=data)

    async def search(self, id_search: str, *, status_only: bool, demo: bool) -> Body:
        # Always with_progress: the gateway does any waiting itself, under its own limit.
        body = {"id_search": id_search, "with_progress": True, "status_only": status_only, "demo": demo}
        endpoint: UpstreamEndpoint = "search_status" if status_only else "search"
        if not status_only:
            await self.admit()
        return await self._post(endpoint, "/api/search", idempotent=status_only, json=body)

    async def delete_pic(self, id_search: str, id_pic: str) -> Body:
        params = {"id_search": id_search, "id_pic": id_pic}
        return await self._post("delete_pic", "/api/delete_pic", idempotent=False, params=params)

    async def info(self) -> Body:
        """Upstream's /api/info; once an open circuit's period is over, this call is its probe."""
        probe = self.circuit is not None and self.circuit.probe_due()
        if probe and self.circuit is not None:
            self.circuit.start_probe()
        body = await self._post("info", "/api/info", idempotent=not probe, probe=probe)
        metrics.observe_info(body)
        return body

    async def admit(self) -> None:
        """New work (and, while the circuit is open, status checks) goes only through a closed
        circuit; once the open period is over, the first caller probes with /api/info and goes on if
        that answered. Raises CircuitOpen otherwise."""
        circuit = self.circuit
        if circuit is None or circuit.closed:
            return
        if self._probe_lock.locked():  # a probe is out: the others fail fast meanwhile
            raise circuit.refuse()
        async with self._probe_lock:
            if not circuit.closed and circuit.probe_due():
                with contextlib.suppress(GatewayError):  # a failed probe reopened the circuit
                    await self.info()
        if not circuit.closed:
            raise circuit.refuse()

    async def _post(self, endpoint: UpstreamEndpoint, path: str, *, idempotent: bool, probe: bool = False,
                    **kwargs: Any) -> Body:
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(1, attempts + 1):
            with _measured(endpoint) as measured:
                try:
                    response = await self._http.post(path, headers=self._headers, **kwargs)
                except httpx.TimeoutException as exc:
                    measured.outcome = "timeout"
                    self._failed(probe)
                    if attempt < attempts and isinstance(exc, httpx.ConnectTimeout):
                        continue
                    raise UpstreamTimeout() from exc
                except httpx.HTTPError as exc:
                    self._failed(probe)
                    if attempt < attempts:
                        continue
                    raise UpstreamUnavailable() from exc
                if self.circuit is not None:
                    if response.status_code >= 500:
                        self.circuit.failure(probe=probe)
                    else:
                        self.circuit.success(probe=probe)
                measured.outcome = "http_error" if response.status_code != 200 else "bad_answer"
                if response.status_code in _RETRYABLE_STATUS and attempt < attempts:
                    continue
                body = _decode(response)
                measured.outcome = "error" if body.get("error") else "ok"
                return body
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, probe: bool) -> None:
        if self.circuit is not None:
            self.circuit.failure(probe=probe)


def raise_in_band(body: Body, id_search: str | None) -> None:
    """FaceCheck reports errors inside a 200 answer; its own `error` and `code` pass through."""
    error = body.get("error")
    if error:
        raise UpstreamError(str(error), body.get("code"), id_search)


def _decode(response: httpx.Response) -> Body:
    if response.status_code != 200:
        raise UpstreamUnavailable(
            f"The face-search service answered HTTP {response.status_code}; try again shortly."
        )
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamUnavailable("The face-search service sent an unreadable answer.") from exc
    if not isinstance(body, dict):
        raise UpstreamUnavailable("The face-search service sent an unexpected answer.")
    return body
