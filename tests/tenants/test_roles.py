"""Roles on every admin route: a table of route x role -> status.

Operators (ADMIN_TOKEN, or an operator key bound to no tenant) may do everything. A tenant admin
(a tenant key with the `admin` scope) acts on its own tenant only: its keys, usage, audit events,
rejections and cached results; never its limits, status, name, or a new tenant; anything of another
tenant is "not found". A key without `admin` is refused; no key at all is unauthenticated.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.config import Settings
from app.db.migrate import upgrade
from app.main import create_app
from tests.fixtures.admin_gateway import ADMIN
from tests.fixtures.clock import ManualClock
from tests.fixtures.images import make_image

HOOK = "http://127.0.0.1:9/budget"  # never called: tenant A has no monthly budget to cross
ROLES = ["nobody", "plain key", "own admin", "other admin", "operator key", "admin token"]


@dataclass
class World:
    """Tenant A (the target) and B, each with an admin key; A's plain key, one of A's keys to act on,
    a search of A's, a budget webhook of A's; an operator key."""

    client: TestClient
    a: str
    b: str
    keys: dict[str, str | None]
    a_key_id: str
    a_search: str

    def call(self, role: str, method: str, path: str, body: Any = None) -> Any:
        token = self.keys[role]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.request(method, path.format(a=self.a, key=self.a_key_id, search=self.a_search),
                                   headers=headers, json=body)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("roles")
    settings = Settings(_env_file=None, data_dir=tmp, admin_token=ADMIN, auth_failure_limit=10_000,
                        sandbox_search_seconds=0, sandbox_queue_seconds=0, log_level="WARNING")
    upgrade(settings)
    with TestClient(create_app(settings, clock=ManualClock())) as c:
        yield c


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def operator(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"}, json=body)


@pytest.fixture
def world(client: TestClient) -> World:
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    for name in (a, b):
        _ok(operator(client, "POST", "/admin/tenants", {"name": name}), 201)
    _ok(operator(client, "PUT", f"/admin/tenants/{a}/webhook", {"url": HOOK}))
    admin_scopes = {"scopes": ["search", "info", "admin"]}
    own = _ok(operator(client, "POST", f"/admin/tenants/{a}/keys", admin_scopes), 201)["key"]
    other = _ok(operator(client, "POST", f"/admin/tenants/{b}/keys", admin_scopes), 201)["key"]
    plain = _ok(operator(client, "POST", f"/admin/tenants/{a}/keys", {}), 201)
    target = _ok(operator(client, "POST", f"/admin/tenants/{a}/keys", {"name": "target"}), 201)["id"]
    op_key = _ok(operator(client, "POST", "/admin/keys", {"name": "ops"}), 201)["key"]
    files = [("images", ("a.jpg", make_image(4242), "image/jpeg"))]
    search = client.post("/api/upload_pic", headers={"Authorization": plain["key"]}, files=files).json()["id_search"]
    keys = {"nobody": None, "plain key": plain["key"], "own admin": own, "other admin": other,
            "operator key": op_key, "admin token": ADMIN}
    return World(client, a, b, keys, target, search)


# route -> (method, path, body, expected status per role in ROLES order)
T = "/admin/tenants/{a}"
TABLE: dict[str, tuple[str, str, Any, tuple[int, ...]]] = {
    "create tenant": ("POST", "/admin/tenants", {"name": "new-{uniq}"}, (401, 403, 403, 403, 201, 201)),
    "list tenants": ("GET", "/admin/tenants", None, (401, 403, 200, 200, 200, 200)),
    "get tenant": ("GET", T, None, (401, 403, 200, 404, 200, 200)),
    "change limits": ("PATCH", T, {"credits_per_month": 10**6}, (401, 403, 403, 403, 200, 200)),
    "rename": ("PATCH", T, {"name": "renamed-{uniq}"}, (401, 403, 403, 403, 200, 200)),
    "cache scope": ("PATCH", T, {"cache_scope": "global"}, (401, 403, 403, 403, 200, 200)),
    "purpose rule": ("PATCH", T, {"require_purpose": False}, (401, 403, 403, 403, 200, 200)),
    "suspend": ("POST", T + "/suspend", None, (401, 403, 403, 403, 200, 200)),
    "resume": ("POST", T + "/resume", None, (401, 403, 403, 403, 200, 200)),
    "delete tenant": ("DELETE", T, None, (401, 403, 403, 403, 204, 204)),
    "usage": ("GET", T + "/usage", None, (401, 403, 200, 404, 200, 200)),
    "create key": ("POST", T + "/keys", {"scopes": ["search"]}, (401, 403, 201, 404, 201, 201)),
    "list keys": ("GET", T + "/keys", None, (401, 403, 200, 404, 200, 200)),
    "revoke key": ("POST", "/admin/keys/{key}/revoke", None, (401, 403, 200, 404, 200, 200)),
    "rotate key": ("POST", "/admin/keys/{key}/rotate", {"grace_seconds": 0}, (401, 403, 200, 404, 200, 200)),
    "create operator key": ("POST", "/admin/keys", {"name": "x"}, (401, 403, 403, 403, 201, 201)),
    "upstream status": ("GET", "/admin/upstream", None, (401, 403, 403, 403, 200, 200)),
    "audit events": ("GET", "/admin/audit?tenant_id={a_id}", None, (401, 403, 200, 404, 200, 200)),
    "audit export": ("GET", "/admin/audit/export?tenant_id={a_id}", None, (401, 403, 200, 404, 200, 200)),
    "rejections": ("GET", "/admin/audit/rejections?tenant_id={a_id}&since=2000-01-01T00:00:00Z", None,
                   (401, 403, 200, 404, 200, 200)),
    "purge tenant cache": ("DELETE", "/admin/cache?tenant={a}", None, (401, 403, 200, 404, 200, 200)),
    "purge a search": ("DELETE", "/admin/cache/searches/{search}", None, (401, 403, 200, 404, 200, 200)),
    "purge everything": ("DELETE", "/admin/cache", None, (401, 403, 403, 403, 200, 200)),
    "set webhook": ("PUT", T + "/webhook", {"url": HOOK, "thresholds": [90]}, (401, 403, 200, 404, 200, 200)),
    "show webhook": ("GET", T + "/webhook", None, (401, 403, 200, 404, 200, 200)),
    "webhook deliveries": ("GET", T + "/webhook/deliveries", None, (401, 403, 200, 404, 200, 200)),
    "remove webhook": ("DELETE", T + "/webhook", None, (401, 403, 204, 404, 204, 204)),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(TABLE))
def test_route_by_role(world: World, route: str, role: str) -> None:
    method, path, body, expected = TABLE[route]
    a_id = _ok(operator(world.client, "GET", f"/admin/tenants/{world.a}"))["id"]
    if body is not None and "name" in body:  # a fresh name each time
        body = {**body, "name": body["name"].replace("{uniq}", uuid.uuid4().hex[:8])}
    response = world.call(role, method, path.replace("{a_id}", a_id), body)
    status = expected[ROLES.index(role)]
    assert response.status_code == status, (route, role, response.text)
    if status >= 400:
        assert response.json()["code"] == {401: "INVALID_TOKEN", 403: "FORBIDDEN", 404: "NOT_FOUND"}[status]


def test_a_tenant_admin_sees_only_its_own_tenant_and_events(world: World) -> None:
    listed = _ok(world.call("own admin", "GET", "/admin/tenants"))
    assert [t["name"] for t in listed] == [world.a]
    events = _ok(world.call("own admin", "GET", "/admin/audit?limit=1000"))["events"]
    a_id = listed[0]["id"]
    assert events and {e["tenant_id"] for e in events} == {a_id}
    exported = world.call("own admin", "GET", "/admin/audit/export")
    assert exported.status_code == 200 and world.b not in exported.text
    assert all(line.count(a_id) for line in exported.text.splitlines())


def test_a_tenant_admin_grants_no_scope_it_lacks(world: World) -> None:
    narrow = _ok(operator(world.client, "POST", f"/admin/tenants/{world.a}/keys", {"scopes": ["search", "admin"]}),
                 201)["key"]
    headers = {"Authorization": f"Bearer {narrow}"}
    wider = world.client.post(f"/admin/tenants/{world.a}/keys", headers=headers, json={"scopes": ["info"]})
    assert wider.status_code == 403 and wider.json()["code"] == "FORBIDDEN"
    same = world.client.post(f"/admin/tenants/{world.a}/keys", headers=headers, json={"scopes": ["search"]})
    assert same.status_code == 201


def test_an_operator_key_is_no_tenant_key(world: World) -> None:
    key = world.keys["operator key"]
    assert key is not None
    answer = world.client.post("/api/info", headers={"Authorization": key}).json()
    assert answer["code"] in {"FORBIDDEN", "INVALID_TOKEN"}


def test_the_actor_and_its_tenant_are_in_the_audit_log(world: World) -> None:
    created = world.call("own admin", "POST", "/admin/tenants/{a}/keys", {"scopes": ["info"]})
    key_id = _ok(created, 201)["id"]
    events = _ok(operator(world.client, "GET", "/admin/audit?action=admin.key.create&limit=1000"))["events"]
    [event] = [e for e in events if e["key_id"] == key_id]
    own_key_id = _ok(world.call("own admin", "GET", "/admin/tenants/{a}/keys"))
    admin_ids = {k["id"] for k in own_key_id if "admin" in k["scopes"]}
    assert event["actor"] in {f"key:{i}" for i in admin_ids}
    assert event["tenant_id"] == _ok(operator(world.client, "GET", f"/admin/tenants/{world.a}"))["id"]
    refused = world.call("own admin", "PATCH", "/admin/tenants/{a}", {"credits_per_month": 1})
    assert refused.status_code == 403
    rejected = _ok(operator(world.client, "GET", "/admin/audit?code=FORBIDDEN&limit=1000"))["events"]
    assert any(e["request_id"] == refused.headers["X-Request-ID"] and e["actor"] in
               {f"key:{i}" for i in admin_ids} for e in rejected)


def test_a_tenant_admins_webhook_change_is_audited_with_its_key(world: World) -> None:
    own_id = _ok(world.call("own admin", "PUT", f"{T}/webhook", {"url": HOOK, "thresholds": [75]}))["tenant_id"]
    assert world.call("other admin", "DELETE", f"{T}/webhook").status_code == 404
    assert _ok(world.call("own admin", "GET", f"{T}/webhook"))["thresholds"] == [75]  # the refusal left it be
    [own_key] = [k["id"] for k in _ok(world.call("own admin", "GET", f"{T}/keys")) if "admin" in k["scopes"]]
    events = _ok(operator(world.client, "GET", f"/admin/audit?action=admin.webhook.set&tenant_id={own_id}"))
    assert sorted(e["actor"] for e in events["events"]) == ["admin", f"key:{own_key}"], events
