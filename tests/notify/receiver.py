"""A webhook receiver served by the test on loopback: records every request, answers as told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.fixtures.services import LOOPBACK, wait_for

HOLD = "hold"  # keep the request open until release() (a sender killed mid-delivery)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    plan: list[int | str] = field(default_factory=list)  # answers for the next requests; then 200
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *plan: int | str) -> None:
        with self.lock:
            self.plan = list(plan)

    def next_answer(self) -> int | str:
        with self.lock:
            return self.plan.pop(0) if self.plan else 200

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def for_tenant(self, tenant: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.json["tenant"] == tenant]

    def wait(self, tenant: str, count: int, deadline_s: float = 30) -> list[Received]:
        wait_for(lambda: len(self.for_tenant(tenant)) >= count, deadline_s=deadline_s,
                 what=f"{count} webhook requests for {tenant}")
        return self.for_tenant(tenant)


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.record(Received({k.lower(): v for k, v in self.headers.items()}, body))
            answer = receiver.next_answer()
            if answer == HOLD:
                receiver.released.wait(60)
                answer = 200
            self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://{LOOPBACK}:{server.server_address[1]}/budget"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
