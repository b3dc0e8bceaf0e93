"""The alert rules file and its promtool unit tests, as data: shared by the rules tests and the
end-to-end alerting test (which runs the same rules with short windows)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.processes import PROJECT_ROOT

RULES = PROJECT_ROOT / "deploy" / "alerts" / "facecheck-gateway.rules.yml"
UNIT_TESTS = Path(__file__).with_name("alerts.test.yml")
_LABEL = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")
_RANGE = re.compile(r"\[(\d+)([smh])\]")


def alert_rules(path: Path = RULES) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]}


def render_unit_tests(rules_path: Path) -> str:
    """The promtool test file: each expected alert's summary as written, its description from the rule
    with $labels filled in (descriptions carry no $value), so promtool compares every annotation."""
    rules = alert_rules()
    spec = yaml.safe_load(UNIT_TESTS.read_text())
    spec["rule_files"] = [str(rules_path)]
    for case in spec["tests"]:
        for check in case["alert_rule_test"]:
            description = rules[check["alertname"]]["annotations"]["description"]
            for alert in check["exp_alerts"]:
                labels: dict[str, Any] = alert["exp_labels"]
                rendered = _LABEL.sub(partial(_label, labels), description)
                alert["exp_annotations"] = {"summary": alert.pop("summary"), "description": rendered}
    return yaml.safe_dump(spec, sort_keys=False)


def _label(labels: dict[str, Any], match: re.Match[str]) -> str:
    return str(labels[match.group(1)])


def fast_rules(for_seconds: int = 2, window_seconds: int = 10) -> str:
    """The same rules for a test that must see alerts fire and resolve within seconds: every `for` and
    every range window shortened (a test-only override; the expressions are unchanged)."""
    text = _RANGE.sub(f"[{window_seconds}s]", RULES.read_text())
    return re.sub(r"^(\s+for:) \S+$", rf"\1 {for_seconds}s", text, flags=re.M)
