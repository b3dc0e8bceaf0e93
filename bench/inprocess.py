"""The app's own CPU per request, without the server: one path's requests are handed straight to the
gateway's ASGI app in this process, ten at a time, against a served sandbox (and, in the production
shape, PostgreSQL and Redis), as `make bench` runs them. uvicorn, the client's sockets and the load
generator are left out, so the figure moves with the gateway's own code and much less with machine
noise: use it to compare a change before and after. `--profile` adds cProfile's top functions
(cProfile slows everything several times over; read its shares, not its times).

    .venv/bin/python -m bench.inprocess --path status            # status, info or cache
    .venv/bin/python -m bench.inprocess --path info --embedded --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from bench import images
from bench.stack import Services, start_upstream
from tests.fixtures.stack import ADMIN_TOKEN, gateway_env

CLIENTS = 10
JSON = {"Content-Type": "application/json"}


async def call(app: Any, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One POST through the whole ASGI app (every middleware), as the server would hand it over."""
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [*raw, (b"content-length", str(len(body)).encode())], "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000), "state": {}}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def prepare(app: Any, path: str) -> tuple[str, dict[str, str], bytes]:
    """A tenant, and the request the path repeats: a poll on a running search, /api/info, or a poll on
    a search answered from the cache."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", **JSON}
    await call(app, "/admin/tenants", admin, b'{"name": "bench"}')
    key = json.loads((await call(app, "/admin/tenants/bench/keys", admin, b"{}"))[1])["key"]
    if path == "info":
        return "/api/info", {"Authorization": key}, b""
    body, content_type = images.multipart(images.jpeg(20 * 1024, seed=1))
    upload = {"Authorization": key, "Content-Type": content_type}
    poll = {"Authorization": key, **JSON}
    first = json.loads((await call(app, "/api/upload_pic", upload, body))[1])["id_search"]
    request = json.dumps({"id_search": first, "with_progress": path == "status"}).encode()
    await call(app, "/api/search", poll, request)  # submitted; `with_progress: false` waits to the end
    if path == "status":
        return "/api/search", poll, request
    again = json.loads((await call(app, "/api/upload_pic", upload, body))[1])["id_search"]
    request = json.dumps({"id_search": again, "with_progress": True}).encode()
    status, answer = await call(app, "/api/search", poll, request)
    assert status == 200 and json.loads(answer).get("output"), answer[:200]
    return "/api/search", poll, request


async def measure(app: Any, path: str, requests: int, rounds: int, profile: cProfile.Profile | None) -> list[float]:
    url, headers, body = await prepare(app, path)

    async def client(count: int) -> None:
        for _ in range(count):
            status, answer = await call(app, url, headers, body)
            assert status == 200, answer[:200]

    await asyncio.gather(*(client(30) for _ in range(CLIENTS)))  # warm caches and pools
    per_request = []
    for _ in range(rounds):
        started = time.process_time()
        if profile is not None:
            profile.enable()
        await asyncio.gather(*(client(requests // CLIENTS) for _ in range(CLIENTS)))
        if profile is not None:
            profile.disable()
        per_request.append((time.process_time() - started) * 1000 / requests)
    return per_request


async def run(args: argparse.Namespace, quiet: TextIO) -> list[float]:
    from app.main import create_app  # after the settings are in the environment

    app = create_app()
    profile = cProfile.Profile() if args.profile else None
    async with app.router.lifespan_context(app):
        for handler in logging.getLogger().handlers:  # the access log is written, not to the terminal
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(quiet)
        per_request = await measure(app, args.path, args.requests, 1 if profile else args.rounds, profile)
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=("status", "info", "cache"), default="status")
    parser.add_argument("--embedded", action="store_true", help="SQLite and the in-process backend")
    parser.add_argument("--requests", type=int, default=4000, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40, help="functions the profile lists")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facecheck-inprocess-") as name, open(os.devnull, "w") as quiet:
        tmp = Path(name)
        services = Services(tmp)
        upstream = start_upstream(tmp / "sandbox", 0.3 if args.path == "cache" else 600)
        try:
            database_url, redis_url = ("", "") if args.embedded else services.urls()
            os.environ.update(gateway_env(tmp, upstream.base_url, database_url, REDIS_URL=redis_url,
                                          API_ERROR_STATUS="http"))
            subprocess.run([sys.executable, "-m", "app.cli", "migrate"], check=True, capture_output=True)
            per_request = asyncio.run(run(args, quiet))
        finally:
            upstream.terminate()
            services.close()
    shape = "embedded" if args.embedded else "production"
    print(f"{args.path}, {shape}: CPU per request {min(per_request):.3f} ms (best of {len(per_request)}), "
          f"median {sorted(per_request)[len(per_request) // 2]:.3f} ms; {CLIENTS} concurrent callers")


if __name__ == "__main__":
    main()
