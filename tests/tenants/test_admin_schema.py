"""Schemathesis over the admin part of /openapi.json, against a gateway process on PostgreSQL: for
generated valid and invalid requests, no server error, and every answer as documented (status code,
content type, body schema). Bounded: few examples per operation, derandomised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import ADMIN_TOKEN, Stack, fresh_database, running_stack


@pytest.fixture(scope="module")
def admin_stack(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("schema"), fresh_database(postgres_server)) as stack:
        yield stack


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_admin_api_matches_its_schema(admin_stack: Stack, mode: GenerationMode) -> None:
    admin_stack.new_tenant("schema")
    schema = schemathesis.openapi.from_url(admin_stack.url + "/openapi.json").include(path_regex="^/admin")
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == len(results), [r.err() for r in results if isinstance(r, Err)]
    assert len(operations) == 25

    for operation in operations:

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=12, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(base_url=admin_stack.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                   checks=CHECKS)

        run()


def test_the_schema_is_served(admin_stack: Stack, tmp_path: Path) -> None:
    spec = admin_stack.http.get(admin_stack.url + "/openapi.json", timeout=10).json()
    assert {"/admin/tenants", "/admin/keys/{key_id}/rotate", "/api/upload_pic"} <= set(spec["paths"])
