"""Envelope rules that must hold whatever upstream sends, and the last-resort error path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.facecheck.models import Search
from app.facecheck.service import SearchService
from app.main import create_app


def _search() -> Search:
    return Search(id="gw-id", upstream_id="up-id", tenant_id="t", key_id="k", status="submitted",
                  images=[], created_at=datetime.now(UTC))


def test_final_output_always_comes_with_progress_100() -> None:
    body = SearchService._present(_search(), {"id_search": "up-id", "progress": 97, "output": {"items": []}})
    assert body["progress"] == 100 and body["id_search"] == "gw-id"


def test_missing_keys_are_filled_and_unknown_ones_pass_through() -> None:
    body = SearchService._present(_search(), {"id_search": "up-id", "hasEmptyImages": False, "progress": 40})
    assert body == {"id_search": "gw-id", "message": None, "progress": 40, "error": None, "code": None,
                    "input": None, "output": None, "hasEmptyImages": False}


@pytest.mark.parametrize("mode", ["compat", "http"])
async def test_unexpected_exception_is_an_enveloped_internal_error(mode: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, api_error_status=mode)
    app = create_app(settings)

    @app.post("/api/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.post("/api/explode", headers={"X-Request-ID": "req-123"})
    assert response.status_code == (200 if mode == "compat" else 500)
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR" and "req-123" in body["error"]
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-123"
