"""The admin API in process: auth on every route, validation (422 naming the field), 404s, and the
tenant and key lifecycle, with a clock the test moves instead of waiting."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.admin_gateway import Gateway

ROUTES = [
    ("POST", "/admin/tenants", {"name": "x"}),
    ("GET", "/admin/tenants", None),
    ("GET", "/admin/tenants/x", None),
    ("PATCH", "/admin/tenants/x", {}),
    ("POST", "/admin/tenants/x/suspend", None),
    ("POST", "/admin/tenants/x/resume", None),
    ("DELETE", "/admin/tenants/x", None),
    ("GET", "/admin/tenants/x/usage", None),
    ("POST", "/admin/tenants/x/keys", {}),
    ("GET", "/admin/tenants/x/keys", None),
    ("POST", "/admin/keys/x/revoke", None),
    ("POST", "/admin/keys/x/rotate", {}),
    ("GET", "/admin/upstream", None),
    ("GET", "/admin/ledger", None),
    ("POST", "/admin/ledger/searches/x/settle", {"charge": True}),
    ("DELETE", "/admin/cache", None),
    ("DELETE", "/admin/cache/searches/x", None),
]


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and set(body) == {"error", "code", "detail"}, body
    return body


def test_openapi_lists_every_admin_route(gateway: Gateway) -> None:
    paths = gateway.client.get("/openapi.json").json()["paths"]
    for method, path, _ in ROUTES:
        template = (path.replace("/tenants/x", "/tenants/{tenant}").replace("/keys/x", "/keys/{key_id}")
                    .replace("/searches/x", "/searches/{id_search}"))
        assert method.lower() in paths[template], (method, template)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_needs_the_admin_token(gateway: Gateway, method: str, path: str, body: Any) -> None:
    error(gateway.admin(method, path, auth={}, json=body), 401, "INVALID_TOKEN")
    error(gateway.admin(method, path, auth={"Authorization": "Bearer wrong"}, json=body), 401, "INVALID_TOKEN")
    gateway.tenant("holder")
    tenant_key = gateway.key("holder", scopes=["search", "info"])["key"]
    error(gateway.admin(method, path, auth={"Authorization": tenant_key}, json=body), 403, "FORBIDDEN")


def test_an_admin_scoped_key_may_administer(gateway: Gateway) -> None:
    gateway.tenant("ops")
    key = gateway.key("ops", scopes=["admin"])["key"]
    listed = gateway.admin("GET", "/admin/tenants", auth={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200 and [t["name"] for t in listed.json()] == ["ops"]
    assert gateway.api("/api/info", key)["code"] == "FORBIDDEN"  # admin alone is not info


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/admin/tenants", {"name": "bad name!"}, "name"),
    ("POST", "/admin/tenants", {}, "name"),
    ("POST", "/admin/tenants", {"name": "ok", "credits_per_month": -1}, "credits_per_month"),
    ("POST", "/admin/tenants", {"name": "ok", "cache_scope": "everyone"}, "cache_scope"),
    ("POST", "/admin/tenants", {"name": "ok", "colour": "red"}, "colour"),
    ("PATCH", "/admin/tenants/acme", {"requests_per_minute": 0}, "requests_per_minute"),
    ("POST", "/admin/tenants/acme/keys", {"scopes": ["root"]}, "scopes.0"),
    ("POST", "/admin/tenants/acme/keys", {"scopes": []}, "scopes"),
    ("POST", "/admin/tenants/acme/keys", {"expires_at": "soon"}, "expires_at"),
    ("POST", "/admin/keys/abc/rotate", {"grace_seconds": 86_401}, "grace_seconds"),
    ("GET", "/admin/tenants/acme/usage?by=week", None, "by"),
    ("GET", "/admin/tenants/bad%20ref", None, "tenant"),
])  # fmt: skip
def test_bad_input_is_422_naming_the_field(gateway: Gateway, method: str, path: str, body: Any, field: str) -> None:
    gateway.tenant("acme")
    found = error(gateway.admin(method, path, json=body), 422, "VALIDATION_ERROR")
    assert field in found["error"] and field in [d["field"].removeprefix("query.").removeprefix("path.")
                                                 for d in found["detail"]], found


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if "/x" in r[1]])
def test_unknown_ids_are_404(gateway: Gateway, method: str, path: str, body: Any) -> None:
    error(gateway.admin(method, path.replace("/x", "/nobody"), json=body), 404, "NOT_FOUND")


def test_tenant_lifecycle(gateway: Gateway) -> None:
    created = gateway.tenant("acme", credits_per_month=300, demo_only=True)
    assert (created["status"], created["credits_per_month"], created["demo_only"]) == ("active", 300, True)
    error(gateway.admin("POST", "/admin/tenants", json={"name": "acme"}), 409, "TENANT_EXISTS")
    assert gateway.admin("GET", f"/admin/tenants/{created['id']}").json()["name"] == "acme"

    patched = gateway.admin("PATCH", "/admin/tenants/acme", json={
        "name": "acme2", "credits_per_month": None, "searches_per_day": 10, "cache_scope": "none",
        "require_purpose": True, "demo_only": False}).json()  # fmt: skip
    assert patched["name"] == "acme2" and patched["credits_per_month"] is None
    assert (patched["searches_per_day"], patched["cache_scope"], patched["require_purpose"]) == (10, "none", True)
    assert created["cache_scope"] is None  # follows CACHE_SCOPE until set
    reset = gateway.admin("PATCH", "/admin/tenants/acme2", json={"cache_scope": None})
    assert reset.status_code == 200 and reset.json()["cache_scope"] is None
    gateway.tenant("other")
    error(gateway.admin("PATCH", "/admin/tenants/acme2", json={"name": "other"}), 409, "TENANT_EXISTS")
    error(gateway.admin("PATCH", "/admin/tenants/acme2", json={"name": None}), 400, "BAD_REQUEST")
    assert [t["name"] for t in gateway.admin("GET", "/admin/tenants").json()] == ["acme2", "other"]

    key = gateway.key("acme2")["key"]
    assert gateway.api("/api/info", key).get("code") is None
    assert gateway.admin("POST", "/admin/tenants/acme2/suspend").json()["status"] == "suspended"
    assert gateway.api("/api/info", key)["code"] == "INVALID_TOKEN"
    assert gateway.admin("POST", "/admin/tenants/acme2/resume").json()["status"] == "active"
    assert gateway.api("/api/info", key).get("code") is None

    assert gateway.admin("DELETE", "/admin/tenants/acme2").status_code == 204
    error(gateway.admin("GET", "/admin/tenants/acme2"), 404, "NOT_FOUND")
    assert gateway.api("/api/info", key)["code"] == "INVALID_TOKEN"


def test_keys_show_the_clear_key_once(gateway: Gateway) -> None:
    gateway.tenant("acme")
    created = gateway.key("acme", name="backend", requests_per_minute=30)
    key = created["key"]
    assert (created["name"], created["scopes"], created["requests_per_minute"]) == ("backend", ["info", "search"], 30)
    listed = gateway.admin("GET", "/admin/tenants/acme/keys")
    assert listed.status_code == 200 and key not in listed.text and '"key"' not in listed.text
    assert listed.json()[0]["prefix"] == key[:8] and listed.json()[0]["last4"] == key[-4:]

    revoked = gateway.admin("POST", f"/admin/keys/{created['id']}/revoke").json()
    assert revoked["revoked_at"] is not None
    assert gateway.api("/api/info", key)["code"] == "INVALID_TOKEN"
    error(gateway.admin("POST", f"/admin/keys/{created['id']}/rotate", json={}), 400, "BAD_REQUEST")


def test_an_info_key_cannot_upload_or_search(gateway: Gateway) -> None:
    gateway.tenant("acme")
    key = gateway.key("acme", scopes=["info"])["key"]
    assert gateway.api("/api/info", key).get("code") is None
    assert gateway.api("/api/upload_pic", key, files={"images": ("a.jpg", b"x", "image/jpeg")})["code"] == "FORBIDDEN"
    assert gateway.api("/api/search", key, json={"id_search": "abc"})["code"] == "FORBIDDEN"
    assert gateway.api("/api/delete_pic?id_search=a&id_pic=b", key)["code"] == "FORBIDDEN"


def test_rotation_grace_then_only_the_new_key(gateway: Gateway) -> None:
    gateway.tenant("acme")
    old = gateway.key("acme", name="mobile")
    rotated = gateway.admin("POST", f"/admin/keys/{old['id']}/rotate", json={"grace_seconds": 600}).json()
    new = rotated["new"]
    assert new["id"] != old["id"] and new["name"] == "mobile" and new["key"] != old["key"]
    for _ in range(2):
        assert gateway.api("/api/info", old["key"]).get("code") is None
        assert gateway.api("/api/info", new["key"]).get("code") is None
        gateway.clock.advance(299)
    gateway.clock.advance(3)  # 601 s after the rotation; the cached entry is still fresh
    expired = gateway.api("/api/info", old["key"])
    assert expired["code"] == "INVALID_TOKEN" and "expired" in expired["error"]
    assert gateway.api("/api/info", new["key"]).get("code") is None


def test_rotation_with_no_grace_stops_the_old_key_now(gateway: Gateway) -> None:
    gateway.tenant("acme")
    old = gateway.key("acme")
    assert gateway.api("/api/info", old["key"]).get("code") is None  # cached
    rotated = gateway.admin("POST", f"/admin/keys/{old['id']}/rotate", json={"grace_seconds": 0}).json()
    assert gateway.api("/api/info", old["key"])["code"] == "INVALID_TOKEN"
    assert gateway.api("/api/info", rotated["new"]["key"]).get("code") is None


def test_an_expired_key_says_so(gateway: Gateway) -> None:
    gateway.tenant("acme")
    key = gateway.key("acme", expires_at="2026-11-23T12:05:00Z")["key"]
    assert gateway.api("/api/info", key).get("code") is None
    gateway.clock.advance(301)
    body = gateway.api("/api/info", key)
    assert body["code"] == "INVALID_TOKEN" and "expired" in body["error"]


def test_repeated_failures_from_one_address_are_refused(gateway: Gateway) -> None:
    gateway.tenant("acme")
    key = gateway.key("acme")["key"]
    assert gateway.api("/api/info", key).get("code") is None  # this address is now known not braked
    for _ in range(5):
        assert gateway.api("/api/info", "fcg_guess")["code"] == "INVALID_TOKEN"
    refused = gateway.client.post("/api/info", headers={"Authorization": key})
    assert refused.json()["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) > 0
    error(gateway.admin("GET", "/admin/tenants"), 429, "RATE_LIMITED")
    gateway.clock.advance(61)
    assert gateway.api("/api/info", key).get("code") is None


def test_upstream_status(gateway: Gateway) -> None:
    body = gateway.admin("GET", "/admin/upstream").json()
    assert body["is_online"] is True and isinstance(body["remaining_credits"], int) and body["faces"] > 0


def test_openapi_describes_the_drop_in_bodies(gateway: Gateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    paths = spec["paths"]
    upload = paths["/api/upload_pic"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["images"]["items"]["format"] == "binary" and "id_search" in upload["properties"]
    search = paths["/api/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"id_search", "with_progress", "status_only", "demo"} <= set(search["properties"])
    assert {p["name"] for p in paths["/api/delete_pic"]["post"]["parameters"]} == {"id_search", "id_pic"}
    for path in ("/api/upload_pic", "/api/search", "/api/delete_pic"):
        operation = paths[path]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Envelope")
        assert "422" not in operation["responses"] and operation["security"] == [{"ApiKey": []}]
    assert paths["/admin/tenants"]["post"]["security"] == [{"AdminToken": []}]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
