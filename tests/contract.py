"""Validation of /api responses against the upstream contract (../shared/facecheck-openapi.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "facecheck-openapi.json"


@cache
def _components() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(CONTRACT.read_text())
    return {"components": spec["components"]}


def validate(body: dict[str, Any], schema_name: str) -> None:
    """Raise if `body` does not match the named component schema.

    The contract's `output` is a bare $ref, which OpenAPI 3.0 cannot mark nullable, yet upstream
    sends `output: null` until a search is final; so a null output is accepted and a non-null one
    is validated against Search_Results.
    """
    schema = {**_components(), "$ref": f"#/components/schemas/{schema_name}"}
    if schema_name == "BrowserJsonResponse" and body.get("output") is None:
        body = {k: v for k, v in body.items() if k != "output"}
    OAS30Validator(schema).validate(body)


def validate_envelope(body: dict[str, Any]) -> None:
    validate(body, "BrowserJsonResponse")
    missing = {"id_search", "message", "progress", "error", "code", "input", "output"} - body.keys()
    assert not missing, f"envelope keys missing: {missing}"
