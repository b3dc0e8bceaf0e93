"""The embedded default: no settings at all gives SQLite, the in-process sandbox, and a demo
tenant whose key and curl example are printed on first start."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.fixtures.contract import validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.processes import ManagedProcess
from tests.fixtures.services import free_port

CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("DATABASE_", "FACECHECK_", "SANDBOX_", "GATEWAY_", "REDIS_", "DATA_DIR"))}


def _serve(tmp: Path, port: int) -> ManagedProcess:
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    env = {"SANDBOX_QUEUE_SECONDS": "0.2", "SANDBOX_SEARCH_SECONDS": "0.5"}
    proc = ManagedProcess(cmd, log_dir=tmp / "logs", env=env, cwd=tmp, name="embedded",
                          base_url=f"http://127.0.0.1:{port}", ready_url=f"http://127.0.0.1:{port}/healthz",
                          ready_deadline_s=60)
    proc.env = {**CLEAN_ENV, **env, "PYTHONUNBUFFERED": "1"}
    return proc.start()


def test_first_start_prints_a_working_key_and_curl_example(tmp_path: Path) -> None:
    port = free_port()
    gateway = _serve(tmp_path, port)
    try:
        log = gateway.log_text()
        keys = re.findall(r"^\s+(fcg_[A-Za-z0-9_-]+)\s*$", log, re.M)
        assert len(keys) == 1, log
        key = keys[0]
        curl = next(line.strip() for line in log.splitlines() if line.strip().startswith("curl "))
        assert (tmp_path / "data" / "gateway.db").exists()

        photo = tmp_path / "photo.jpg"
        photo.write_bytes(make_image(301))
        if shutil.which("curl"):
            out = subprocess.run([*shlex.split(curl), "--max-time", "30"], capture_output=True, text=True,
                                 cwd=tmp_path, check=True).stdout
            import json
            up = json.loads(out)
        else:  # the same request the curl line makes
            with photo.open("rb") as fh:
                up = requests.post(f"{gateway.base_url}/api/upload_pic", headers={"Authorization": key},
                                   files={"images": fh}, timeout=30).json()
        validate_envelope(up)
        assert up["error"] is None and up["id_search"]

        final = requests.post(f"{gateway.base_url}/api/search", headers={"Authorization": key}, timeout=30,
                              json={"id_search": up["id_search"], "with_progress": False}).json()
        assert final["progress"] == 100 and final["output"]["items"]
    finally:
        gateway.terminate()

    # A restart keeps the database and prints no new key; the old key still works.
    again = _serve(tmp_path, port)
    try:
        assert again.log_text().count("fcg_") == log.count("fcg_")
        info = requests.post(f"{again.base_url}/api/info", headers={"Authorization": key}, timeout=30).json()
        assert info["is_online"] is True
    finally:
        again.terminate()


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--workers", "2"], cwd=tmp_path,
                            env=CLEAN_ENV, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr


@pytest.mark.parametrize("secret", ["", "short"])
def test_production_mode_refuses_a_weak_secret(tmp_path: Path, secret: str) -> None:
    env = {**CLEAN_ENV, "FACECHECK_API_TOKEN": "real-looking-token", "GATEWAY_SECRET": secret}
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "GATEWAY_SECRET" in result.stderr
    assert "real-looking-token" not in result.stderr + result.stdout


@pytest.mark.parametrize("admin_token", ["", "short-admin-token"])
def test_production_mode_refuses_a_missing_or_weak_admin_token(tmp_path: Path, admin_token: str) -> None:
    env = {**CLEAN_ENV, "FACECHECK_API_TOKEN": "real-looking-token", "GATEWAY_SECRET": "g" * 40,
           "ADMIN_TOKEN": admin_token}
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "ADMIN_TOKEN" in result.stderr and "GATEWAY_SECRET" not in result.stderr
    assert (admin_token or "real-looking-token") not in result.stderr + result.stdout
