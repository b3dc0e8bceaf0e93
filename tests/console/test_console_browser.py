"""The console in a real browser (Debian's chromium): an operator's whole round, a tenant admin kept
to its own tenant, CSRF, idle expiry, and /docs rendered with nothing fetched from outside."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.fixtures.browser import Outside
from tests.fixtures.images import make_image
from tests.fixtures.processes import start_gateway
from tests.fixtures.services import wait_for
from tests.fixtures.stack import ADMIN_TOKEN, Stack

IDLE_SECONDS = 2


def sign_in(page: Page, token: str) -> None:
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/signin$"))
    page.get_by_label("Admin token or admin key").fill(token)
    page.get_by_role("button", name="Sign in").click()


def api(stack: Stack, path: str, key: str, **kwargs: object) -> dict[str, object]:
    body: dict[str, object] = stack.post(path, key, **kwargs).json()
    return body


def test_operator_manages_a_tenant_and_its_key_end_to_end(page: Page, console_stack: Stack) -> None:
    stack = console_stack
    sign_in(page, ADMIN_TOKEN)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # The cookie is the session's id only: HttpOnly, SameSite=Strict, and not the token.
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["fcg_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and ADMIN_TOKEN not in session["value"]
    assert ADMIN_TOKEN not in page.content()

    name = f"web-{uuid.uuid4().hex[:8]}"
    page.get_by_role("link", name="Tenants").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Credits per month").fill("300")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    tenant_url = page.url

    page.get_by_label("Key name").fill("browser")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("fcg_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    expect(page).to_have_url(tenant_url)  # the page's script points the address bar at the plain page
    page.reload()  # the key was shown once: the reloaded page is the plain tenant page
    expect(page.locator("#new-key")).to_have_count(0)
    assert key not in page.content()
    expect(page.locator("#keys")).to_contain_text(key[-4:])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # usable at 360 px

    upload = api(stack, "/api/upload_pic", key, files={"images": ("face.jpg", make_image(1801), "image/jpeg")})
    assert upload["error"] is None, upload
    final = api(stack, "/api/search", key, json={"id_search": upload["id_search"], "with_progress": False,
                                                 "status_only": False, "demo": False})
    assert final["output"], final

    page.reload()
    expect(page.locator("#usage-month")).to_contain_text("3")  # one search, 3 credits
    expect(page.locator("svg.chart rect.bar").first).to_be_attached()
    page.goto(f"/console/tenants?q={name}")  # the list's spend: this month and today
    row = page.locator("#tenants tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("3")
    expect(row.locator("td").nth(3)).to_have_text("3")
    page.goto(tenant_url)
    page.get_by_role("link", name="This tenant's audit events").click()
    events = page.locator("#events")
    expect(events).to_contain_text("search")
    expect(events).to_contain_text("admin.key.create")
    expect(events.locator("tr", has_text="admin.tenant.create")).to_contain_text("admin")

    page.goto(tenant_url)
    page.locator("#keys tr", has_text=key[-4:]).get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.locator("#keys tr", has_text=key[-4:])).to_contain_text("revoked")
    refused = api(stack, "/api/info", key)
    assert refused["code"] == "INVALID_TOKEN", refused
    page.goto("/console/audit?action=admin.key.revoke")
    expect(page.locator("#events")).to_contain_text("admin.key.revoke")

    page.get_by_role("button", name="Verify chain").click()
    expect(page.locator("#verify-result")).to_contain_text("Chain intact")


def test_a_form_without_its_csrf_token_is_refused(page: Page, console_stack: Stack) -> None:
    sign_in(page, ADMIN_TOKEN)
    page.goto("/console/tenants")
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.locator("form[action='/console/tenants'] input[name=csrf]").evaluate("e => e.remove()")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create tenant").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("CSRF")
    assert name not in console_stack.admin("GET", "/admin/tenants").text


def test_a_tenant_admin_sees_only_its_own_tenant(page: Page, console_stack: Stack) -> None:
    stack = console_stack
    own, _ = stack.new_tenant("own")
    other, _ = stack.new_tenant("other")
    created = stack.admin("POST", f"/admin/tenants/{own}/keys", json={"scopes": ["admin", "search", "info"]})
    admin_key = created.json()["key"]
    other_id = stack.admin("GET", f"/admin/tenants/{other}").json()["id"]

    page.goto("/console/signin")
    page.get_by_label("Admin token or admin key").fill("fcg_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    sign_in(page, admin_key)
    expect(page.get_by_role("heading", name=own)).to_be_visible()  # no overview: straight to its tenant
    # Keyboard first: Tab reaches "Skip to content", with a visible focus ring.
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.textContent, getComputedStyle(document.activeElement)"
                            ".outlineStyle]")
    assert focused == ["Skip to content", "solid"], focused
    expect(page.get_by_role("heading", name="Limits")).to_have_count(0)
    # Another tenant's things are "not found", as on /admin (and as a tenant that does not exist);
    # the list of every tenant is an operator's page.
    for path, status, heading in (
        (f"/console/tenants/{other_id}", 404, "Not found"), (f"/console/tenants/{other}", 404, "Not found"),
        ("/console/tenants/no-such-tenant", 404, "Not found"),
        (f"/console/audit?tenant_id={other_id}", 404, "Not found"), ("/console/tenants", 403, "Not allowed"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == status, path
        expect(page.get_by_role("heading", name=heading)).to_be_visible()


def test_an_idle_session_expires(page: Page, context: tuple[BrowserContext, Outside], console_stack: Stack,
                                 tmp_path: Path) -> None:
    """A replica whose idle timeout is short: once the session has sat idle past it (as the
    database records), the next page asks to sign in again."""
    env = {**console_stack.env, "DATA_DIR": str(tmp_path / "data"), "CONSOLE_IDLE_SECONDS": str(IDLE_SECONDS)}
    replica = start_gateway(tmp_path, env=env, cwd=tmp_path)
    try:
        context[1].allowed.add(urlsplit(replica.base_url).netloc)  # this replica is a gateway under test too
        page.goto(f"{replica.base_url}/console/signin")
        page.get_by_label("Admin token or admin key").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        database = tmp_path / "data" / "gateway.db"

        def idle_past_timeout() -> bool:
            with sqlite3.connect(database) as db:
                row = db.execute("SELECT last_seen_at FROM console_sessions WHERE kind = 'session'").fetchone()
            seen = datetime.fromisoformat(row[0]).replace(tzinfo=UTC)
            return datetime.now(UTC) - seen > timedelta(seconds=IDLE_SECONDS)

        wait_for(idle_past_timeout, deadline_s=30, what="the session to sit idle past the timeout")
        page.goto(f"{replica.base_url}/console")
        expect(page).to_have_url(re.compile(r"/console/signin$"))
    finally:
        replica.terminate()


def test_docs_render_their_operations_offline(page: Page) -> None:
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    page.goto("/redoc")
    expect(page.get_by_text("upload_pic").first).to_be_attached()
    page.wait_for_load_state("networkidle")  # anything the bundle fetches afterwards is caught too
