"""`facecheck-gateway tenants` and `keys`: JSON out, the clear key exactly once, stored only hashed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "FACECHECK_", "GATEWAY_"))}


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=tmp_path, env=ENV,
                                capture_output=True, text=True, timeout=60, check=False)
        assert (result.returncode == 0) == ok, result.stderr
        return result

    return run


def test_tenant_and_key_lifecycle(cli: Any, tmp_path: Path) -> None:
    tenant = json.loads(cli("tenants", "create", "mobile-app").stdout)
    assert tenant["name"] == "mobile-app" and tenant["status"] == "active"
    assert [t["name"] for t in json.loads(cli("tenants", "list").stdout)] == ["mobile-app"]

    created = json.loads(cli("keys", "create", "mobile-app", "--name", "backend").stdout)
    key = created["key"]
    assert key.startswith("fcg_") and created["prefix"] == key[:8] and created["last4"] == key[-4:]
    assert created["scopes"] == ["info", "search"]

    listed = cli("keys", "list", tenant["id"]).stdout
    assert key not in listed and '"key"' not in listed
    revoked = json.loads(cli("keys", "revoke", created["id"]).stdout)
    assert revoked["revoked_at"] is not None

    # Only the HMAC of the key is stored; the clear key appears nowhere in the database file.
    db = tmp_path / "data" / "gateway.db"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert key not in dump and key[4:] not in dump


def test_errors_are_clear(cli: Any) -> None:
    cli("tenants", "create", "dup")
    assert "already exists" in cli("tenants", "create", "dup", ok=False).stderr
    assert "Tenant not found" in cli("keys", "create", "nobody", ok=False).stderr
    assert "Key not found" in cli("keys", "revoke", "nokey", ok=False).stderr
    assert "Tenant names" in cli("tenants", "create", "bad name!", ok=False).stderr
    assert "Scopes" in cli("keys", "create", "dup", "--scopes", "admin", ok=False).stderr
