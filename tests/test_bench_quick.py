"""The benchmark harness in quick mode: it starts its processes, runs both sides of a path and writes a
well-formed table. It checks the shape only; the figures themselves live in bench/results/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.processes import PROJECT_ROOT


def test_quick_bench_writes_a_table_for_floor_sandbox_and_gateway(tmp_path: Path) -> None:
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
        for side in ("floor", "direct", "gateway"):
            assert row[side]["errors"] == 0, row
            assert row[side]["rps"] > 0 and row[side]["cpu_ms_per_request"] > 0, row
        for side in ("direct", "gateway"):  # latency at the steady rate; the floor is a throughput reference
            assert 0 < row[side]["p50_ms"] <= row[side]["p99_ms"], row
        assert row["throughput_ratio"] > 0
        assert row["efficiency"] == row["gateway"]["rps"] / row["floor"]["rps"]
        assert row["added_p50_ms"] == row["gateway"]["p50_ms"] - row["direct"]["p50_ms"]
        assert row["added_p99_ms"] == row["gateway"]["p99_ms"] - row["direct"]["p99_ms"]
    assert report["meta"]["rate"] == 200 and report["meta"]["clients"] == 10
    assert report["two_workers_over_one_on_polls"] is None  # the quick run has one configuration
    table = (tmp_path / "latest.md").read_text()
    assert ("| configuration | path | floor req/s | sandbox req/s | gateway req/s | efficiency |" in table
            and table == result.stdout.split("\nWritten")[0])
    assert table.count("\n| embedded") == 2 and all(line.count("|") == 17 for line in table.splitlines()
                                                    if line.startswith("| embedded"))


def test_in_process_bench_serves_each_path_and_reports_its_cpu() -> None:
    for path in ("status", "info", "cache"):
        result = subprocess.run(
            [sys.executable, "-m", "bench.inprocess", "--path", path, "--embedded", "--requests", "40",
             "--rounds", "2"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        line = result.stdout.strip().splitlines()[-1]
        assert line.startswith(f"{path}, embedded: CPU per request ") and "(best of 2)" in line, line
        assert float(line.split("CPU per request ")[1].split(" ms")[0]) > 0, line
