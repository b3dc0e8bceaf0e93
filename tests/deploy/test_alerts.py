"""Alert rules: valid for Prometheus, each with a severity, a summary and a description that says
what to do, each unit-tested by promtool (firing and quiet cases), documented, and wired into
the compose stack with Alertmanager."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.rules import RULES, UNIT_TESTS, alert_rules, render_unit_tests
from tests.deploy.test_deploy_files import DEPLOY, compose_config, tool
from tests.fixtures.processes import PROJECT_ROOT


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_pass_promtool_check() -> None:
    out = run(tool("promtool", "Debian package prometheus"), "check", "rules", str(RULES))
    assert f"SUCCESS: {len(alert_rules())} rules found" in out


def test_rules_pass_their_promtool_unit_tests(tmp_path: Path) -> None:
    tests = tmp_path / "alerts.test.yml"
    tests.write_text(render_unit_tests(RULES))
    out = run(tool("promtool", "Debian package prometheus"), "test", "rules", str(tests))
    assert "SUCCESS" in out


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


def test_prometheus_loads_the_rules_and_sends_to_alertmanager() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts/*.yml"]
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:9093"
    promtool = tool("promtool", "Debian package prometheus")
    run(promtool, "check", "config", "--syntax-only", str(DEPLOY / "prometheus.yml"))


def test_alertmanager_config_is_valid() -> None:
    run(tool("amtool", "Debian package prometheus-alertmanager"), "check-config", str(DEPLOY / "alertmanager.yml"))


def test_compose_runs_alertmanager_and_mounts_the_rules() -> None:
    services = compose_config()["services"]
    mounts = {m["target"]: Path(m["source"]) for name in ("prometheus", "alertmanager")
              for m in services[name]["volumes"] if m["type"] == "bind"}  # fmt: skip
    assert mounts["/etc/prometheus/alerts"] == RULES.parent
    assert mounts["/etc/alertmanager/alertmanager.yml"] == DEPLOY / "alertmanager.yml"
