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
    assert "Scopes" in cli("keys", "create", "dup", "--scopes", "root", ok=False).stderr
    assert "Invalid 'credits_per_month'" in cli("tenants", "update", "dup", "--credits-per-month", "-1",
                                                 ok=False).stderr
    assert "already exists" in cli("tenants", "create", "other").stderr + cli(
        "tenants", "update", "other", "--name", "dup", ok=False).stderr


def test_update_suspend_resume_rotate(cli: Any) -> None:
    cli("tenants", "create", "ops")
    updated = json.loads(cli("tenants", "update", "ops", "--name", "ops2", "--cache-scope", "none",
                             "--require-purpose", "--searches-per-day", "5").stdout)
    assert (updated["name"], updated["cache_scope"], updated["require_purpose"]) == ("ops2", "none", True)
    assert updated["searches_per_day"] == 5
    assert json.loads(cli("tenants", "suspend", "ops2").stdout)["status"] == "suspended"
    assert json.loads(cli("tenants", "resume", "ops2").stdout)["status"] == "active"

    old = json.loads(cli("keys", "create", "ops2", "--name", "ci", "--scopes", "info",
                         "--expires-at", "2099-01-01T00:00:00").stdout)
    assert old["expires_at"].startswith("2099-01-01")
    rotated = json.loads(cli("keys", "rotate", old["id"], "--grace-seconds", "60").stdout)
    assert rotated["new"]["key"].startswith("fcg_") and rotated["new"]["scopes"] == ["info"]
    assert rotated["new"]["name"] == "ci" and rotated["old"]["id"] == old["id"]
    assert rotated["old"]["expires_at"] < old["expires_at"]
    assert "grace_seconds" in cli("keys", "rotate", rotated["new"]["id"], "--grace-seconds", "90000",
                                  ok=False).stderr


def test_an_operator_key_from_the_command_line_is_bound_to_no_tenant(cli: Any, tmp_path: Path) -> None:
    created = json.loads(cli("keys", "create-operator", "--name", "ops").stdout)
    assert created["key"].startswith("fcg_") and created["tenant_id"] is None and created["scopes"] == ["admin"]
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        rows = db.execute("SELECT tenant_id, scopes FROM api_keys WHERE id = ?", (created["id"],)).fetchall()
    assert rows == [(None, "admin")]
    exported = [json.loads(line) for line in cli("audit", "export").stdout.splitlines()]
    mine = [(e["action"], e["actor"]) for e in exported if e["key_id"] == created["id"]]
    assert mine == [("admin.key.create", "cli")]
