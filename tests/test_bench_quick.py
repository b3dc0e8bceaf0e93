"""The benchmark harness in quick mode: it starts its processes, runs both sides of a path and writes a
well-formed table. It checks the shape only; the figures themselves live in bench/results/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.processes import PROJECT_ROOT


def test_quick_bench_writes_a_table_for_both_sides(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--paths", "info,status", "--generator", "python",
         "--connections", "2", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["meta"]["generator"].startswith("python")
    assert [row["path"] for row in report["rows"]] == [
        "/api/info", "status poll (/api/search on a running search)"]
    for row in report["rows"]:
        assert row["config"].startswith("embedded")
        for side in ("direct", "gateway"):
            assert row[side]["errors"] == 0, row
            assert row[side]["rps"] > 0 and 0 < row[side]["p50_ms"] <= row[side]["p99_ms"], row
        assert row["gateway"]["cpu_ms_per_request"] > 0
        assert row["throughput_ratio"] > 0
    table = (tmp_path / "latest.md").read_text()
    assert "| configuration | path | direct req/s |" in table and table == result.stdout.split("\nWritten")[0]
