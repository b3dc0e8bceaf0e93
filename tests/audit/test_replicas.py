"""Two gateway processes writing at once extend one valid chain: gap-free seq, every call once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.fixtures.audit_log import events, ids, request_ids
from tests.fixtures.replicas import StartReplicas


def test_concurrent_writers_on_two_replicas_keep_one_chain(start_replicas: StartReplicas) -> None:
    replicas = start_replicas(2)
    first = replicas.stack(0)
    tenant, key = first.new_tenant("chain")
    tenant_id, _ = ids(first, tenant)

    def call(i: int) -> str:
        return replicas.stack(i % 2).post("/api/info", key).headers["X-Request-ID"]

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(call, range(80)))
    assert sorted(request_ids(first, tenant_id)) == sorted(made)
    every = events(first)
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))
    assert "audit chain valid: " in first.cli("audit", "verify").stdout
