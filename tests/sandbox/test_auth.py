"""Token check on every /api route: raw or Bearer accepted, anything else is the in-band error."""

from __future__ import annotations

import pytest

from tests.fixtures.contract import validate_envelope
from tests.fixtures.images import make_image
from tests.fixtures.sandbox_app import Sandbox, SandboxFactory

INVALID = {
    "id_search": None,
    "message": None,
    "progress": None,
    "error": "Invalid API token!",
    "code": "EXCEPTION",
    "input": None,
    "output": None,
}
ROUTES = ["/api/upload_pic", "/api/search", "/api/delete_pic", "/api/info"]


@pytest.mark.parametrize("header", ["sandbox", "Bearer sandbox", "bearer sandbox", "  sandbox  "])
async def test_raw_and_bearer_tokens_are_accepted(sandbox: Sandbox, header: str) -> None:
    sandbox.headers = {"Authorization": header}
    body = await sandbox.upload(make_image(1))
    assert body["error"] is None
    assert body["id_search"]
    info = await sandbox.info()
    assert info["remaining_credits"] == 1000


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("headers", [{"Authorization": "wrong"}, {"Authorization": "Bearer nope"}, {}])
async def test_bad_or_missing_token_is_an_in_band_error(sandbox: Sandbox, route: str, headers: dict[str, str]) -> None:
    response = await sandbox.client.post(route, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == INVALID
    validate_envelope(response.json())
    assert (await sandbox.stats())["invalid_token"] == 1


async def test_only_configured_tokens_pass(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(tokens=["alpha", "beta"])
    sandbox.headers = {"Authorization": "beta"}
    assert (await sandbox.info())["is_online"] is True
    sandbox.headers = {"Authorization": "sandbox"}
    assert (await sandbox.info())["error"] == "Invalid API token!"


async def test_control_routes_need_no_token(sandbox: Sandbox) -> None:
    assert (await sandbox.client.get("/_sandbox/stats")).status_code == 200
    assert (await sandbox.client.get("/_sandbox/config")).status_code == 200
