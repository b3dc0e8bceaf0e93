"""Revocation, suspension and rotation reach every replica within a second, through Redis pub/sub:
the key cache TTL is set to five minutes here, so only the invalidation message can explain it."""

from __future__ import annotations

import time

import requests

from tests.fixtures.replicas import StartReplicas
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Stack


def refused(stack: Stack, key: str) -> bool:
    body = stack.post("/api/info", key).json()
    assert body.get("code") in (None, "INVALID_TOKEN"), body
    return bool(body.get("code") == "INVALID_TOKEN")


def within_a_second(stack: Stack, key: str, what: str) -> None:
    started = time.monotonic()
    wait_for(lambda: refused(stack, key), deadline_s=1.0, what=what)
    assert time.monotonic() - started < 1.0


def test_revocation_suspension_and_rotation_reach_the_other_replica(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2, key_cache_seconds=300)
    a, b = replicas.stack(0), replicas.stack(1)
    tenant, key = a.new_tenant("rep")
    for stack in (a, b):  # both replicas now hold the key in their caches
        assert not refused(stack, key)

    key_id = a.admin("GET", f"/admin/tenants/{tenant}/keys").json()[0]["id"]
    assert a.admin("POST", f"/admin/keys/{key_id}/revoke").status_code == 200
    within_a_second(b, key, "revoked key refused on the other replica")

    second = a.admin("POST", f"/admin/tenants/{tenant}/keys", json={}).json()["key"]
    for stack in (a, b):
        assert not refused(stack, second)
    assert b.admin("POST", f"/admin/tenants/{tenant}/suspend").status_code == 200
    within_a_second(a, second, "suspended tenant refused on the other replica")
    assert a.admin("POST", f"/admin/tenants/{tenant}/resume").status_code == 200
    wait_for(lambda: not refused(b, second), deadline_s=1.0, what="resumed tenant served again")

    second_id = next(k["id"] for k in b.admin("GET", f"/admin/tenants/{tenant}/keys").json() if k["revoked_at"] is None)
    rotated = a.admin("POST", f"/admin/keys/{second_id}/rotate", json={"grace_seconds": 0}).json()
    within_a_second(b, second, "rotated key with no grace refused on the other replica")
    assert not refused(b, rotated["new"]["key"])


def test_a_cli_revocation_reaches_running_replicas(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2, key_cache_seconds=300)
    a, b = replicas.stack(0), replicas.stack(1)
    tenant, key = a.new_tenant("cli")
    for stack in (a, b):
        assert not refused(stack, key)
    key_id = a.cli_json("keys", "list", tenant)[0]["id"]
    a.cli_json("keys", "revoke", key_id)
    for stack in (a, b):
        within_a_second(stack, key, "key revoked from the command line refused")


def test_failed_authentications_are_counted_across_replicas(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2, auth_failure_limit=4)
    _, key = replicas.stack(0).new_tenant("brake")
    for _ in range(4):
        assert refused(replicas.next(), "fcg_not-a-key")
    for stack in (replicas.stack(0), replicas.stack(1)):
        body = stack.post("/api/info", key).json()
        assert body["code"] == "RATE_LIMITED", body
    response = requests.get(replicas.stack(1).url + "/admin/tenants", timeout=5,
                            headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def test_braking_an_address_reaches_a_replica_that_had_cleared_it(start_replicas: StartReplicas) -> None:
    """Replicas remember "this address is not braked" as long as keys (five minutes here): only the
    message sent when an address is braked can explain a refusal within a second."""
    replicas = start_replicas(2, key_cache_seconds=300, auth_failure_limit=3)
    a, b = replicas.stack(0), replicas.stack(1)
    _, key = a.new_tenant("cleared")
    for stack in (a, b):
        assert not refused(stack, key)
    for _ in range(3):
        assert refused(a, "fcg_not-a-key")
    started = time.monotonic()
    wait_for(lambda: b.post("/api/info", key).json().get("code") == "RATE_LIMITED", deadline_s=1.0,
             what="address braked on one replica refused on the other")
    assert time.monotonic() - started < 1.0
    assert a.post("/api/info", key).json().get("code") == "RATE_LIMITED"
