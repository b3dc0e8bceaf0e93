"""An open-loop load at a steady rate: requests are scheduled by the clock (request i at t0 + i/rate),
spread round-robin over `clients` keep-alive connections, and each latency is measured from the
request's scheduled time, so a request that waits behind a slow answer on its connection counts the
wait (no coordinated omission). Closed-loop tools such as wrk slow down with the server instead.

The client is a minimal HTTP/1.1 writer and reader on asyncio streams, so the generator's own cost
per request stays far below the server's on a shared machine.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from bench.load import LoadResult, Request, percentile


def run(request: Request, *, rate: float, seconds: float, clients: int) -> LoadResult:
    return asyncio.run(_run(request, rate, seconds, clients))


def _raw(request: Request, body: bytes, key: str | None) -> bytes:
    parts = urlsplit(request.url)
    headers = {**request.headers, "Host": parts.netloc, "Content-Length": str(len(body))}
    if key is not None:
        headers["Authorization"] = key
    head = f"POST {parts.path or '/'} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def _requests(request: Request) -> list[bytes]:
    """Every distinct request the run cycles through (ids and keys in turn, as the closed-loop runs do)."""
    count = max(1, len(request.ids), len(request.keys))
    out = []
    for i in range(count):
        body = request.body
        if request.ids:
            body = body.replace(b"{id}", request.ids[i % len(request.ids)].encode())
        out.append(_raw(request, body, request.keys[i % len(request.keys)] if request.keys else None))
    return out


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send one request and read its whole answer; the status code."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _run(request: Request, rate: float, seconds: float, clients: int) -> LoadResult:
    parts = urlsplit(request.url)
    raws = _requests(request)
    total = max(1, int(rate * seconds))
    latencies: list[float] = []
    errors = 0
    connections = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(clients)]
    start = time.perf_counter() + 0.05

    async def client(index: int) -> None:
        nonlocal errors
        reader, writer = connections[index]
        for i in range(index, total, clients):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # paced: the open-loop schedule, not synchronisation
            try:
                ok = 200 <= await _exchange(reader, writer, raws[i % len(raws)]) < 400
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                ok = False
            latencies.append((time.perf_counter() - scheduled) * 1000)
            errors += not ok

    try:
        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        for _, writer in connections:
            writer.close()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult(len(latencies), elapsed, percentile(latencies, 50), percentile(latencies, 99), errors)
