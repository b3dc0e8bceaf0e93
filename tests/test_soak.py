"""A short soak of the embedded default: several clients of three tenants upload, search, poll,
ask for info and make mistakes, a third of the time with a photo seen before (cache hits), otherwise with a new
one (a new result to keep). The gateway's resident memory must level off: once its caches are full,
the last third of the run grows it by a few MiB at most. The result cache's bound is lowered so that
it fills within the run; the sandbox upstream runs in the same process, as in the embedded default."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.images import make_image
from tests.fixtures.processes import ManagedProcess
from tests.fixtures.services import free_port, wait_for

CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("DATABASE_", "FACECHECK_", "SANDBOX_", "GATEWAY_", "REDIS_", "DATA_DIR", "ADMIN_"))}
ADMIN = "soak-admin-token-Rk7Vw2Qz9Lm4Tx8Bn3Hp6Jd1Fc5Gy0"
CLIENTS = 4
PHOTOS = [make_image(seed, size=(96 + seed % 5 * 16, 96)) for seed in range(40)]
SOAK_SECONDS = 105.0
SAMPLE_SECONDS = 1.0
MiB = 1024


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[ManagedProcess]:
    port = free_port()
    env = {"SANDBOX_QUEUE_SECONDS": "0.05", "SANDBOX_SEARCH_SECONDS": "0.15", "SANDBOX_INITIAL_CREDITS": "10000000",
           "ADMIN_TOKEN": ADMIN, "UPSTREAM_POLL_INTERVAL_SECONDS": "0.1", "LOG_LEVEL": "WARNING",
           "CACHE_MAX_BYTES": str(4 * 1024 * 1024)}
    proc = ManagedProcess([sys.executable, "-m", "app.cli", "serve",
                           "--port", str(port)], log_dir=tmp_path / "logs", env=env, cwd=tmp_path, name="soak",
                          base_url=f"http://127.0.0.1:{port}", ready_url=f"http://127.0.0.1:{port}/healthz",
                          ready_deadline_s=60)
    proc.env = {**CLEAN_ENV, **env, "PYTHONUNBUFFERED": "1"}
    proc.start()
    try:
        yield proc
    finally:
        proc.terminate()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def make_keys(base: str) -> list[str]:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    keys = []
    for n in range(3):
        name = f"soak-{n}"
        assert requests.post(f"{base}/admin/tenants", json={"name": name}, headers=auth, timeout=30).status_code == 201
        created = requests.post(f"{base}/admin/tenants/{name}/keys", json={"name": "k"}, headers=auth, timeout=30)
        keys.append(created.json()["key"])
    return keys


class Traffic:
    def __init__(self, base: str, keys: list[str]) -> None:
        self.base, self.keys = base, keys
        self.stop = threading.Event()
        self.calls = 0
        self.unexpected: list[str] = []
        self._lock = threading.Lock()

    def client(self, n: int) -> None:
        rng = random.Random(n)
        session = requests.Session()
        while not self.stop.is_set():
            key = self.keys[rng.randrange(len(self.keys))]
            headers = {"Authorization": key, "X-Purpose": f"soak {n}"}
            seen = rng.random() < 0.3
            photo = PHOTOS[rng.randrange(len(PHOTOS))] if seen else make_image(1000 + rng.randrange(10**9))
            up = session.post(f"{self.base}/api/upload_pic", headers=headers, timeout=60,
                              files=[("images", ("p.jpg", photo, "image/jpeg"))]).json()
            answers = [up]
            if up.get("id_search"):
                answers.append(session.post(f"{self.base}/api/search", headers=headers, timeout=60,
                                            json={"id_search": up["id_search"], "with_progress": False}).json())
            roll = rng.random()
            if roll < 0.2:
                answers.append(session.post(f"{self.base}/api/info", headers=headers, timeout=60).json())
            elif roll < 0.3:
                bad = session.post(f"{self.base}/api/search", headers=headers, timeout=60,
                                   json={"id_search": "unknown-" + str(rng.random())}).json()
                answers.append(bad if bad.get("code") != "NOT_FOUND" else {})
            with self._lock:
                self.calls += len(answers)
                self.unexpected += [str(a) for a in answers if a.get("code") or a.get("error")]


def test_resident_memory_levels_off_under_mixed_traffic(embedded: ManagedProcess) -> None:
    traffic = Traffic(embedded.base_url, make_keys(embedded.base_url))
    assert embedded.pid is not None
    samples: list[int] = []
    with ThreadPoolExecutor(CLIENTS) as pool:
        runners = [pool.submit(traffic.client, n) for n in range(CLIENTS)]
        try:
            wait_for(lambda: traffic.calls >= 20, deadline_s=60, what="traffic flowing")
            ends = time.monotonic() + SOAK_SECONDS
            while time.monotonic() < ends:
                samples.append(rss_kib(embedded.pid))
                time.sleep(SAMPLE_SECONDS)  # paced: one sample a second
        finally:
            traffic.stop.set()
        for runner in runners:
            runner.result()
    assert traffic.unexpected == []
    assert traffic.calls > 300  # enough traffic to have grown an unbounded structure
    cut = len(samples) * 2 // 3
    growth = max(samples[cut:]) - max(samples[:cut])
    print(f"soak: {traffic.calls} calls, RSS {samples[0] // MiB} -> {samples[-1] // MiB} MiB, "
          f"last third grew {growth} KiB")
    assert growth <= 3 * MiB, f"RSS still rising in the last third: {growth} KiB ({samples[::10]})"
