"""Console sign-in and sessions on both databases, in-process with a clock the test moves: what the
cookie and the database hold, idle expiry, the brute-force brake, one-time links, keys that stop
working, and every change audited with its actor."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from app.config import Settings
from app.console.sessions import new_link
from app.db import Database
from app.db.migrate import upgrade
from app.main import create_app
from tests.fixtures.admin_gateway import ADMIN, AUTH
from tests.fixtures.clock import ManualClock

IDLE = 600
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Console:
    def __init__(self, client: TestClient, clock: ManualClock, settings: Settings) -> None:
        self.client, self.clock, self.settings = client, clock, settings

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.client.get(path).text)
        assert found is not None, path
        return found.group(1)

    def sign_in(self, token: str) -> Any:
        return self.client.post("/console/signin", data={"csrf": self.csrf("/console/signin"), "token": token},
                                follow_redirects=False)

    def rows(self, sql: str) -> list[Any]:
        async def run() -> list[Any]:
            db = Database(self.settings.effective_database_url)
            try:
                async with db.transaction() as session:
                    return list((await session.execute(text(sql))).all())
            finally:
                await db.close()

        return asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgres"])
def console(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Console]:
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else ""
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=url, admin_token=ADMIN,
                        auth_failure_limit=5, console_idle_seconds=IDLE, log_level="WARNING")
    upgrade(settings)
    clock = ManualClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Console(client, clock, settings)


def test_the_cookie_holds_a_random_id_and_the_database_only_its_hash(console: Console) -> None:
    signed = console.sign_in(ADMIN)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    session_id = console.client.cookies["fcg_console"]
    stored = console.rows("SELECT id_hash, actor FROM console_sessions WHERE kind = 'session'")
    assert len(stored) == 1 and stored[0][1] == "admin"
    assert session_id not in str(stored) and ADMIN not in str(stored)
    assert "Overview" in console.client.get("/console").text
    # Behind https the cookie is Secure.
    found = CSRF.search(console.client.get("https://testserver/console/signin").text)
    assert found is not None
    secure = console.client.post("https://testserver/console/signin", data={"csrf": found.group(1), "token": ADMIN},
                                 follow_redirects=False)
    assert "Secure" in secure.headers["set-cookie"]


def test_a_session_ends_after_the_idle_timeout_and_on_sign_out(console: Console) -> None:
    console.sign_in(ADMIN)
    for _ in range(3):  # activity keeps it alive past the timeout in total
        console.clock.advance(IDLE * 0.8)
        assert console.client.get("/console", follow_redirects=False).status_code == 200
    console.clock.advance(IDLE + 1)
    gone = console.client.get("/console", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/console/signin"
    assert console.rows("SELECT id_hash FROM console_sessions WHERE kind = 'session'") == []

    console.sign_in(ADMIN)
    csrf = console.csrf("/console")
    assert console.client.post("/console/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert console.client.get("/console", follow_redirects=False).status_code == 303


def test_failed_sign_ins_count_toward_the_brake(console: Console) -> None:
    for _ in range(5):
        assert console.sign_in("wrong-token-" + "w" * 30).status_code == 401
    braked = console.sign_in(ADMIN)
    assert braked.status_code == 429 and "fcg_console=" not in braked.headers.get("set-cookie", "")
    # The same brake as /admin: the address is refused there too.
    assert console.client.get("/admin/tenants", headers=AUTH).status_code == 429
    console.clock.advance(120)  # past the brake's window
    rejected = console.client.get("/admin/audit", headers=AUTH, params={"action": "console"}).json()["events"]
    codes = [e["code"] for e in rejected]
    assert codes.count("INVALID_TOKEN") == 5 and "RATE_LIMITED" in codes, codes


def test_a_sign_in_link_works_once(console: Console) -> None:
    token = asyncio.run(_link(console.settings, console.clock))
    assert console.client.get(f"/console/welcome/{token}", follow_redirects=False).status_code == 303
    assert "Overview" in console.client.get("/console").text
    console.client.cookies.clear()
    assert console.client.get(f"/console/welcome/{token}", follow_redirects=False).status_code == 401


async def _link(settings: Settings, clock: ManualClock) -> str:
    db = Database(settings.effective_database_url)
    try:
        return await new_link(db, clock, settings.console_link_seconds)
    finally:
        await db.close()


def test_a_tenant_admin_key_that_stops_working_ends_its_session(console: Console) -> None:
    tenant = console.client.post("/admin/tenants", headers=AUTH, json={"name": "team"}).json()
    key = console.client.post(f"/admin/tenants/{tenant['id']}/keys", headers=AUTH,
                              json={"scopes": ["admin", "info"]}).json()
    assert console.sign_in(key["key"]).status_code == 303
    page = console.client.get(f"/console/tenants/{tenant['id']}")
    assert page.status_code == 200 and key["key"] not in page.text
    # Its own tenant's keys, no wider than its own scopes; never the tenant's limits.
    csrf = console.csrf(f"/console/tenants/{tenant['id']}")
    wider = console.client.post(f"/console/tenants/{tenant['id']}/keys",
                                data={"csrf": csrf, "scope_search": "on"})
    assert wider.status_code == 403 and "does not hold: search" in wider.text
    limits = console.client.post(f"/console/tenants/{tenant['id']}/limits",
                                 data={"csrf": csrf, "credits_per_month": "1"})
    assert limits.status_code == 403

    # Its own audit events only, in the export too.
    console.client.post("/admin/tenants", headers=AUTH, json={"name": "elsewhere"})
    lines = console.client.get("/console/audit/export", params={"format": "jsonl"}).text.splitlines()
    assert lines and {json.loads(line)["tenant_id"] for line in lines} == {tenant["id"]}
    csv_head = console.client.get("/console/audit/export", params={"format": "csv"}).text.splitlines()[0]
    assert csv_head.startswith("seq,time,event_id,action")
    # Another tenant's events are "not found", as on /admin.
    assert console.client.get("/console/audit/export", params={"tenant_id": "other"}).status_code == 404

    # The actor is rebuilt from the key and its tenant as they are now: a rename shows at once.
    assert console.client.patch(f"/admin/tenants/{tenant['id']}", headers=AUTH, json={"name": "renamed"}).is_success
    assert ">admin of renamed<" in console.client.get(f"/console/tenants/{tenant['id']}").text

    console.client.post(f"/admin/keys/{key['id']}/revoke", headers=AUTH)
    assert console.client.get("/console/audit", follow_redirects=False).status_code == 303


def test_console_changes_are_audited_with_their_actor(console: Console) -> None:
    console.sign_in(ADMIN)
    csrf = console.csrf("/console/tenants")
    made = console.client.post("/console/tenants", data={"csrf": csrf, "name": "audited", "searches_per_day": "7"},
                               follow_redirects=False)
    assert made.status_code == 303
    bad = console.client.post("/console/tenants", data={"csrf": csrf, "name": "bad name", "searches_per_day": "-1"})
    assert bad.status_code == 422
    assert 'id="e-name"' in bad.text and 'id="e-searches_per_day"' in bad.text
    events = console.client.get("/admin/audit", headers=AUTH, params={"action": "admin.tenant.create"}).json()
    [event] = events["events"]
    assert event["actor"] == "admin"
    assert event["detail"] == {"name": "audited", "searches_per_day": 7, "demo_only": False}


def test_a_session_is_shared_by_every_replica(console: Console) -> None:
    """Another app on the same database (another replica) knows the session, and its end."""
    console.sign_in(ADMIN)
    cookie = console.client.cookies["fcg_console"]
    with TestClient(create_app(console.settings, clock=console.clock)) as other:
        other.cookies.set("fcg_console", cookie)
        assert "Overview" in other.get("/console").text
        found = CSRF.search(other.get("/console").text)
        assert found is not None
        assert other.post("/console/signout", data={"csrf": found.group(1)}, follow_redirects=False).status_code == 303
    assert console.client.get("/console", follow_redirects=False).headers["location"] == "/console/signin"


def test_an_operator_rotates_a_key_changes_limits_suspends_and_deletes(console: Console) -> None:
    console.sign_in(ADMIN)
    tenant = console.client.post("/admin/tenants", headers=AUTH, json={"name": "ops"}).json()
    key = console.client.post(f"/admin/tenants/{tenant['id']}/keys", headers=AUTH, json={}).json()
    page = f"/console/tenants/{tenant['id']}"
    csrf = console.csrf(page)

    rotated = console.client.post(f"{page}/keys/{key['id']}/rotate", data={"csrf": csrf, "grace_seconds": "60"})
    assert rotated.status_code == 201
    new_key = re.search(r'id="new-key">([^<]+)<', rotated.text)
    assert new_key is not None and new_key.group(1) != key["key"]
    info = {"headers": {"Authorization": key["key"]}}
    assert console.client.post("/api/info", **info).json().get("code") is None  # within its grace
    console.clock.advance(61)
    assert console.client.post("/api/info", **info).json()["code"] == "INVALID_TOKEN"

    limits = console.client.post(f"{page}/limits", data={"csrf": csrf, "searches_per_day": "5"},
                                 follow_redirects=False)
    assert limits.status_code == 303
    assert console.client.get(f"/admin/tenants/{tenant['id']}", headers=AUTH).json()["searches_per_day"] == 5
    bad = console.client.post(f"{page}/limits", data={"csrf": csrf, "searches_per_day": "many"})
    assert bad.status_code == 422 and 'id="e-searches_per_day"' in bad.text

    assert console.client.post(f"{page}/suspend", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert console.client.get(f"/admin/tenants/{tenant['id']}", headers=AUTH).json()["status"] == "suspended"
    assert console.client.post(f"{page}/resume", data={"csrf": csrf}, follow_redirects=False).status_code == 303

    wrong = console.client.post(f"{page}/delete", data={"csrf": csrf, "confirm": "not-ops"})
    assert wrong.status_code == 400 and 'id="e-confirm"' in wrong.text
    gone = console.client.post(f"{page}/delete", data={"csrf": csrf, "confirm": "ops"}, follow_redirects=False)
    assert gone.status_code == 303
    assert console.client.get(f"/admin/tenants/{tenant['id']}", headers=AUTH).status_code == 404
    actions = [e["action"] for e in console.client.get("/admin/audit", headers=AUTH).json()["events"]]
    for action in ("admin.key.rotate", "admin.tenant.update", "admin.tenant.suspend", "admin.tenant.resume",
                   "admin.tenant.delete"):
        assert action in actions


# Every console route that needs a session: (method, path, form, status for a tenant admin of
# {own}, status for an operator). The services decide; the console only reads the answer.
ROUTES: list[tuple[str, str, dict[str, str] | None, int, int]] = [
    ("GET", "/console", None, 303, 200),  # the overview is an operator's; a tenant admin goes to its tenant
    ("GET", "/console/tenants", None, 403, 200),
    ("POST", "/console/tenants", {"name": "made-here"}, 403, 303),
    ("GET", "/console/audit", None, 200, 200),
    ("GET", "/console/audit/export", None, 200, 200),
    ("POST", "/console/audit/verify", {}, 403, 200),
    ("GET", "{own}", None, 200, 200),
    ("GET", "{other}", None, 404, 200),
    ("GET", "/console/tenants/no-such-tenant", None, 404, 404),  # the same answer as another tenant's
    ("POST", "{own}/limits", {"searches_per_day": "9"}, 403, 303),
    ("POST", "{own}/suspend", {}, 403, 303),
    ("POST", "{own}/resume", {}, 403, 303),
    ("POST", "{own}/keys", {"key_name": "k", "scope_info": "on"}, 201, 201),
    ("POST", "{other}/keys", {"key_name": "k", "scope_info": "on"}, 404, 201),
    ("POST", "{own}/keys/{own_key}/rotate", {"grace_seconds": "0"}, 201, 201),
    ("POST", "{other}/keys/{other_key}/rotate", {"grace_seconds": "0"}, 404, 201),
    ("POST", "{own}/keys/{other_key}/revoke", {}, 404, 404),  # a key of another tenant than the page's
    ("POST", "{own}/keys/{own_key}/revoke", {}, 303, 303),
    ("POST", "{other}/keys/{other_key}/revoke", {}, 404, 303),
    ("POST", "{own}/purge", {}, 200, 200),
    ("POST", "{other}/purge", {}, 404, 200),
    ("POST", "{own}/delete", {"confirm": "mine"}, 403, 303),
]


def test_every_console_route_for_a_tenant_admin_and_an_operator(console: Console) -> None:
    ids = {}
    for name in ("mine", "theirs"):
        ids[name] = console.client.post("/admin/tenants", headers=AUTH, json={"name": name}).json()["id"]
    admin_key = console.client.post(f"/admin/tenants/{ids['mine']}/keys", headers=AUTH,
                                    json={"scopes": ["admin", "search", "info"]}).json()["key"]
    for role, token in (("tenant admin", admin_key), ("operator", ADMIN)):
        console.client.cookies.clear()
        assert console.sign_in(token).status_code == 303
        names = {"own": f"/console/tenants/{ids['mine']}", "other": f"/console/tenants/{ids['theirs']}"}
        for tenant, slot in (("mine", "own_key"), ("theirs", "other_key")):  # keys to rotate and revoke
            names[slot] = console.client.post(f"/admin/tenants/{ids[tenant]}/keys", headers=AUTH, json={}).json()["id"]
        csrf = console.csrf(names["own"])
        for method, path, form, as_admin, as_operator in ROUTES:
            url = path.format(**names)
            data = None if form is None else {"csrf": csrf, **form}
            answer = console.client.request(method, url, data=data, follow_redirects=False)
            expected = as_admin if role == "tenant admin" else as_operator
            assert answer.status_code == expected, (role, method, url, answer.text[:300])
            if expected == 404:  # another tenant's and no tenant's read the same
                assert "<h1>Not found</h1>" in answer.text, (role, url)
