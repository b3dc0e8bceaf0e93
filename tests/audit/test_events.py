"""Every call is one audit event with the right fields, on SQLite and PostgreSQL; a search's
lifecycle is upload + submitted + finished; status polls are not events."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import requests

from tests.fixtures.api import delta
from tests.fixtures.audit_log import events, ids, one
from tests.fixtures.images import make_image
from tests.fixtures.services import wait_for
from tests.fixtures.stack import Stack

CALLER = {"User-Agent": "audit-test/1.0", "X-Purpose": "fraud investigation", "X-Case-Id": "CASE-42"}


def _search(stack: Stack, key: str, sid: str, headers: dict[str, str] | None = None,
            **flags: object) -> requests.Response:
    payload = {"id_search": sid, "with_progress": True, "status_only": False, "demo": False, **flags}
    return stack.post("/api/search", key, json=payload, headers=headers or CALLER)


def test_a_search_is_upload_submitted_finished_with_its_fields(stack: Stack) -> None:
    tenant, key = stack.new_tenant("aud")
    tenant_id, key_id = ids(stack, tenant)
    image = make_image(501)
    up = stack.post("/api/upload_pic", key, files=[("images", ("a.jpg", image, "image/jpeg"))], headers=CALLER)
    sid = up.json()["id_search"]
    submit = _search(stack, key, sid)
    assert submit.json()["error"] is None
    polls = [_search(stack, key, sid, status_only=True) for _ in range(2)]
    final = _search(stack, key, sid, with_progress=False)
    assert final.json()["output"] is not None

    wait_for(lambda: len(events(stack, id_search=sid)) == 3, deadline_s=20, what="three events")
    upload_event, submitted, finished = events(stack, id_search=sid)
    assert [e["action"] for e in (upload_event, submitted, finished)] == ["upload", "search.submitted",
                                                                          "search.finished"]
    for event in (upload_event, submitted, finished):
        assert (event["tenant_id"], event["key_id"], event["outcome"]) == (tenant_id, key_id, "ok")
        assert event["images"] == [hashlib.sha256(image).hexdigest()]
    for event, response in ((upload_event, up), (submitted, submit)):
        assert event["request_id"] == response.headers["X-Request-ID"]
        assert (event["purpose"], event["case_id"], event["user_agent"]) == ("fraud investigation", "CASE-42",
                                                                           "audit-test/1.0")
        assert event["client_ip"] == "127.0.0.1"
    assert (submitted["demo"], submitted["credits_reserved"], submitted["credits_charged"]) == (False, 3, 0)
    items = final.json()["output"]["items"]
    assert finished["credits_charged"] == 3 and finished["credits_refunded"] == 0
    assert finished["result_count"] == len(items)
    assert finished["max_score"] == max(i["score"] for i in items)
    assert finished["detail"] is None  # no result URLs unless AUDIT_RESULT_URLS=true
    for poll in polls:  # status checks are not events
        assert events(stack, request_id=poll.headers["X-Request-ID"]) == []


def test_info_and_delete_are_one_event_each(stack: Stack) -> None:
    tenant, key = stack.new_tenant("aud")
    tenant_id, key_id = ids(stack, tenant)
    info = one(stack, stack.post("/api/info", key))
    assert (info["action"], info["outcome"], info["tenant_id"], info["key_id"]) == ("info", "ok", tenant_id, key_id)
    body = stack.post("/api/upload_pic", key, files=[("images", ("a.jpg", make_image(502), "image/jpeg"))]).json()
    deleted = stack.post("/api/delete_pic", key, params={"id_search": body["id_search"],
                                                         "id_pic": body["input"][0]["id_pic"]})
    event = one(stack, deleted)
    assert (event["action"], event["id_search"], event["outcome"]) == ("delete_pic", body["id_search"], "ok")


def test_rejected_calls_are_one_rejection_event_each(stack: Stack) -> None:
    tenant, key = stack.new_tenant("aud")
    tenant_id, _ = ids(stack, tenant)
    bad_key = one(stack, stack.post("/api/info", "fcg_not-a-key"))
    assert (bad_key["action"], bad_key["outcome"], bad_key["code"]) == ("info", "rejected", "INVALID_TOKEN")
    assert bad_key["tenant_id"] is None and bad_key["key_id"] is None
    no_images = one(stack, stack.post("/api/upload_pic", key, files=[("other", ("a.txt", b"x", "text/plain"))]))
    assert (no_images["code"], no_images["tenant_id"]) == ("NO_IMAGES", tenant_id)
    unknown = one(stack, _search(stack, key, "x" * 32))
    assert (unknown["action"], unknown["code"]) == ("search", "NOT_FOUND")
    counts = stack.admin("GET", "/admin/audit/rejections", params={"tenant_id": tenant_id, "since": "2020-01-01"})
    assert counts.json() == {"NO_IMAGES": 1, "NOT_FOUND": 1}
    admin = one(stack, stack.admin("GET", "/admin/tenants", token="wrong"))
    assert (admin["action"], admin["code"], admin["actor"]) == ("admin", "INVALID_TOKEN", None)


def test_demo_only_and_purpose_refusals_run_nothing_upstream(stack: Stack) -> None:
    tenant, key = stack.new_tenant("aud")
    stack.cli_json("tenants", "update", tenant, "--require-purpose", "--demo-only")
    sid = stack.post("/api/upload_pic", key, files=[("images", ("a.jpg", make_image(503), "image/jpeg"))]).json()[
        "id_search"]
    before = stack.stats()
    demo = one(stack, _search(stack, key, sid))
    assert (demo["code"], demo["outcome"]) == ("DEMO_ONLY", "rejected")
    refused = _search(stack, key, sid, headers={"X-Case-Id": "no purpose"}, demo=True)
    assert refused.json()["code"] == "PURPOSE_REQUIRED"
    assert one(stack, refused)["code"] == "PURPOSE_REQUIRED"
    assert delta(before, stack.stats())["search_submits"] == 0
    accepted = _search(stack, key, sid, demo=True)
    assert accepted.json()["error"] is None
    event = one(stack, accepted)
    assert (event["action"], event["purpose"], event["demo"]) == ("search.submitted", "fraud investigation", True)


def test_admin_actions_name_the_actor(stack: Stack) -> None:
    created = stack.admin("POST", "/admin/tenants", json={"name": "aud-admin-1", "credits_per_month": 30})
    event = one(stack, created)
    assert (event["action"], event["actor"], event["tenant_id"]) == ("admin.tenant.create", "admin",
                                                                     created.json()["id"])
    assert event["detail"] == {"name": "aud-admin-1", "credits_per_month": 30}
    key = stack.admin("POST", "/admin/tenants/aud-admin-1/keys", json={"name": "k"})
    key_event = one(stack, key)
    assert key_event["action"] == "admin.key.create" and key_event["key_id"] == key.json()["id"]
    assert key.json()["key"] not in json.dumps(key_event)  # never the key itself
    revoked = one(stack, stack.admin("POST", f"/admin/keys/{key.json()['id']}/revoke"))
    assert revoked["action"] == "admin.key.revoke"
    assert one(stack, stack.admin("POST", "/admin/tenants/aud-admin-1/suspend"))["action"] == "admin.tenant.suspend"
    assert events(stack, request_id=stack.admin("GET", "/admin/tenants").headers["X-Request-ID"]) == []
    on_cli = ids(stack, stack.new_tenant("aud-cli")[0])  # `tenants create` and `keys create` on the command line
    recorded = [(e["action"], e["actor"], e["key_id"]) for e in events(stack, tenant_id=on_cli[0])]
    assert recorded == [("admin.tenant.create", "cli", None), ("admin.key.create", "cli", on_cli[1])]


def test_pages_exports_and_verify_agree(stack: Stack) -> None:
    tenant, key = stack.new_tenant("aud")
    tenant_id, _ = ids(stack, tenant)
    for _ in range(5):
        stack.post("/api/info", key)
    selection = {"tenant_id": tenant_id, "action": "info"}  # (its creation on the command line is recorded too)
    pages = stack.admin("GET", "/admin/audit", params={**selection, "limit": 2}).json()
    assert len(pages["events"]) == 2 and pages["next_cursor"] is not None
    listed = events(stack, **selection)
    assert len(listed) == 5 and len({e["seq"] for e in listed}) == 5
    jsonl = stack.admin("GET", "/admin/audit/export", params={**selection, "format": "jsonl"})
    assert [json.loads(line)["event_id"] for line in jsonl.text.splitlines()] == [e["event_id"] for e in listed]
    table = list(csv.DictReader(io.StringIO(stack.admin("GET", "/admin/audit/export",
                                                        params={**selection, "format": "csv"}).text)))
    assert [row["event_id"] for row in table] == [e["event_id"] for e in listed]
    cli = stack.cli("audit", "export", "--tenant-id", tenant_id, "--action", "info").stdout.splitlines()
    assert [json.loads(line)["seq"] for line in cli] == [e["seq"] for e in listed]
    assert "audit chain valid" in stack.cli("audit", "verify").stdout


def test_cache_hits_and_purges_are_recorded(stack: Stack) -> None:
    _, key = stack.new_tenant("aud")
    image = make_image(504)

    def upload() -> str:
        sid: str = stack.post("/api/upload_pic", key, files=[("images", ("a.jpg", image, "image/jpeg"))]).json()[
            "id_search"]
        return sid

    first = upload()
    assert _search(stack, key, first, with_progress=False).json()["output"] is not None
    wait_for(lambda: len(events(stack, id_search=first)) == 3, deadline_s=20, what="the first search's events")
    assert [e["cache"] for e in events(stack, id_search=first)[1:]] == ["miss", "miss"]

    second = upload()
    hit = _search(stack, key, second)
    assert hit.headers["X-Cache"] == "HIT"
    _, submitted, finished = events(stack, id_search=second)  # written before the answer went out
    assert [(e["action"], e["cache"], e["credits_charged"]) for e in (submitted, finished)] == [
        ("search.submitted", "hit", 0), ("search.finished", "hit", 0)]
    assert submitted["request_id"] == hit.headers["X-Request-ID"]
    assert finished["result_count"] == len(hit.json()["output"]["items"])

    purged = stack.admin("DELETE", f"/admin/cache/searches/{first}")
    assert purged.json() == {"purged": 1}
    event = one(stack, purged)
    assert (event["action"], event["actor"], event["detail"]) == ("admin.cache.purge", "admin",
                                                                  {"id_search": first, "purged": 1})
