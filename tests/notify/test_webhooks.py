"""Budget webhooks across two replicas: each threshold delivered once however many replicas see
the crossing, retried with the same idempotency id, delivered after a sender is killed, signed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.notify.signing import verify
from tests.fixtures.api import search, upload
from tests.fixtures.images import make_image
from tests.fixtures.replicas import Replicas
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Stack
from tests.fixtures.webhooks import HOLD, Receiver, budgeted_tenant


def set_webhook(stack: Stack, tenant: str, url: str, thresholds: list[int]) -> str:
    response = stack.admin("PUT", f"/admin/tenants/{tenant}/webhook", json={"url": url, "thresholds": thresholds})
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


def run_searches(replicas: Replicas, key: str, n: int, seed: int) -> None:
    """`n` searches to the end, spread over both replicas at once."""

    def one(i: int) -> None:
        stack = replicas.stack(i % 2)
        body = upload(stack, key, make_image(seed + i))
        assert body["error"] is None, body
        final = search(stack, key, body["id_search"], with_progress=False)
        assert final["progress"] == 100, final

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, range(n)))


def deliveries(stack: Stack, tenant: str) -> list[dict[str, Any]]:
    response = stack.admin("GET", f"/admin/tenants/{tenant}/webhook/deliveries")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def wait_delivered(stack: Stack, tenant: str, count: int) -> list[dict[str, Any]]:
    wait_for(lambda: sum(d["status"] == "delivered" for d in deliveries(stack, tenant)) >= count, deadline_s=60,
             what=f"{count} delivered notifications for {tenant}")
    return deliveries(stack, tenant)


def test_thresholds_crossed_on_two_replicas_are_each_delivered_once(pair: Replicas, receiver: Receiver) -> None:
    stack = pair.stack()
    tenant, key = budgeted_tenant(stack, 30)  # 10 searches; 50 % at 5, 80 % at 8, 100 % at 10
    secret = set_webhook(stack, tenant, receiver.url, [50, 80, 100])
    run_searches(pair, key, 10, seed=7100)
    rows = wait_delivered(stack, tenant, 3)
    assert sorted(d["threshold"] for d in rows) == [50, 80, 100]
    assert all(d["attempts"] == 1 and [a["outcome"] for a in d["log"]] == ["delivered"] for d in rows), rows
    got = receiver.for_tenant(tenant)
    assert sorted(r.json["threshold"] for r in got) == [50, 80, 100]  # once each, not once per replica
    assert {r.json["id"] for r in got} == {d["id"] for d in rows}
    for r in got:
        body = r.json
        assert body["credits_budget"] == 30 and body["period"] == rows[0]["period"]
        assert body["credits_used"] * 100 >= body["threshold"] * 30
        assert r.headers["idempotency-key"] == body["id"]
        assert verify(secret, r.headers["x-gateway-signature"], r.body, time.time())
        assert not verify(secret, r.headers["x-gateway-signature"], r.body.replace(b"30", b"31"), time.time())
        assert not verify("whsec_wrong", r.headers["x-gateway-signature"], r.body, time.time())


def test_a_failing_receiver_gets_the_same_notification_on_the_third_try(pair: Replicas, receiver: Receiver) -> None:
    stack = pair.stack(1)
    tenant, key = budgeted_tenant(stack, 6)
    # Set from the command line this time; the secret it prints is the one that signs.
    out = stack.cli_json("webhooks", "set", tenant, receiver.url, "--thresholds", "50")
    assert out["thresholds"] == [50] and out["secret"].startswith("whsec_")
    receiver.answer(500, 503)
    run_searches(pair, key, 1, seed=7200)
    got = receiver.wait(tenant, 3)
    [row] = wait_delivered(stack, tenant, 1)
    assert len({r.json["id"] for r in got}) == 1 and {r.headers["idempotency-key"] for r in got} == {row["id"]}
    assert [r.body for r in got] == [got[0].body] * 3  # the same notification, byte for byte
    assert all(verify(out["secret"], r.headers["x-gateway-signature"], r.body, time.time()) for r in got)
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in row["log"]] == [
        (1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)]
    listed = stack.cli_json("webhooks", "deliveries", tenant)
    assert [d["id"] for d in listed] == [row["id"]] and listed[0]["attempts"] == 3
    assert len(receiver.for_tenant(tenant)) == 3
    # The failures were logged, by notification id: never the secret, never the URL.
    logs = "".join(g.log_text() for g in pair.gateways)
    assert row["id"] in logs and out["secret"] not in logs and receiver.url not in logs


def test_a_sender_killed_mid_delivery_delivers_after_restart(pair: Replicas, receiver: Receiver) -> None:
    stack = pair.stack()
    tenant, key = budgeted_tenant(stack, 6)
    secret = set_webhook(stack, tenant, receiver.url, [100])
    receiver.released.clear()
    receiver.answer(HOLD)
    run_searches(pair, key, 2, seed=7300)
    [first] = receiver.wait(tenant, 1)
    for gateway in pair.gateways:  # whichever replica holds the claim dies with it
        gateway.kill()
    receiver.released.set()
    for gateway in pair.gateways:
        gateway.start()
    [row] = wait_delivered(stack, tenant, 1)
    got = receiver.for_tenant(tenant)
    assert len(got) == 2 and {r.json["id"] for r in got} == {row["id"]} == {first.json["id"]}
    assert verify(secret, got[1].headers["x-gateway-signature"], got[1].body, time.time())
    # The killed attempt left no outcome; the restarted sender took the claim once its lease ran out.
    assert row["attempts"] == 2 and [a["outcome"] for a in row["log"]] == ["delivered"]


def test_webhook_admin_api_shows_no_secret_and_refuses_bad_input(pair: Replicas, receiver: Receiver) -> None:
    stack = pair.stack()
    tenant, _ = budgeted_tenant(stack, 30)
    assert stack.admin("GET", f"/admin/tenants/{tenant}/webhook").status_code == 404
    set_webhook(stack, tenant, receiver.url, [80, 50])
    shown = stack.admin("GET", f"/admin/tenants/{tenant}/webhook").json()
    assert shown["thresholds"] == [50, 80] and shown["secret"] is None
    again = stack.admin("PUT", f"/admin/tenants/{tenant}/webhook", json={"url": receiver.url}).json()
    assert again["secret"] is None and again["thresholds"] == [50, 80, 100]
    rotated = stack.admin("PUT", f"/admin/tenants/{tenant}/webhook", json={"url": receiver.url,
                                                                           "rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_")
    for bad in ({"url": "ftp://x"}, {"url": "http://"}, {"url": receiver.url, "thresholds": [0]},
                {"url": receiver.url, "thresholds": []}, {"url": receiver.url, "extra": 1}):
        response = stack.admin("PUT", f"/admin/tenants/{tenant}/webhook", json=bad)
        assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR", (bad, response.text)
    assert stack.admin("PUT", f"/admin/tenants/{tenant}/webhook", json={"url": receiver.url},
                       token=None).status_code == 401
    assert stack.admin("DELETE", f"/admin/tenants/{tenant}/webhook").status_code == 204
    assert stack.admin("DELETE", f"/admin/tenants/{tenant}/webhook").status_code == 404
    assert stack.admin("GET", "/admin/tenants/nobody/webhook/deliveries").status_code == 404
