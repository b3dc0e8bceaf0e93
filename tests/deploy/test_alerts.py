"""Alert rules: valid for Prometheus, each with a severity, a summary and a description that says
what to do, each unit-tested by promtool (firing and quiet cases), and documented."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.fixtures.alerting import RULES, UNIT_TESTS, alert_rules, binary, render_unit_tests
from tests.fixtures.processes import PROJECT_ROOT


def promtool(*args: str) -> str:
    result = subprocess.run([binary("promtool", package="prometheus"), *args], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_pass_promtool_check() -> None:
    assert f"SUCCESS: {len(alert_rules())} rules found" in promtool("check", "rules", str(RULES))


def test_rules_pass_their_promtool_unit_tests(tmp_path: Path) -> None:
    tests = tmp_path / "alerts.test.yml"
    tests.write_text(render_unit_tests(RULES))
    assert "SUCCESS" in promtool("test", "rules", str(tests))


def test_every_rule_has_severity_summary_description_and_a_firing_and_a_quiet_test() -> None:
    spec = yaml.safe_load(UNIT_TESTS.read_text())
    checks = [check for case in spec["tests"] for check in case["alert_rule_test"]]
    fired = {c["alertname"] for c in checks if c["exp_alerts"]}
    quiet = {c["alertname"] for c in checks if not c["exp_alerts"]}
    for name, rule in alert_rules().items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 80, name
        assert name in fired, f"{name}: no promtool test sees it fire"
        assert name in quiet, f"{name}: no promtool test sees it stay quiet"


def test_every_alert_is_documented() -> None:
    page = (PROJECT_ROOT / "docs" / "alerting.md").read_text()
    for name in alert_rules():
        assert f"### {name}" in page, name
