"""A real Prometheus and Alertmanager (Debian packages) on loopback, for the alerting tests:
Prometheus scrapes the given gateways every second and evaluates the shipped rules (shortened),
Alertmanager sends every alert to a webhook URL the test serves."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.deploy.rules import fast_rules
from tests.fixtures.processes import ManagedProcess
from tests.fixtures.services import LOOPBACK, free_port


def binary(*names: str, package: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    message = f"`{names[0]}` not found; install the Debian package {package} (scripts/install-test-services.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr, **({"time": at} if at is not None else {})}
        body = requests.get(self.url + "/api/v1/query", params=params, timeout=10).json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float = 1) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr, "start": start, "end": end, "step": step}
        body = requests.get(self.url + "/api/v1/query_range", params=params, timeout=10).json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0


@contextmanager
def monitoring(tmp: Path, targets: list[str], webhook_url: str) -> Iterator[Prometheus]:
    """Alertmanager, then Prometheus; both stopped when the block ends."""
    am_port, prom_port = free_port(), free_port()
    am_config = {
        "route": {"receiver": "test", "group_by": ["alertname", "tenant"], "group_wait": "0s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "test", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }  # fmt: skip
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
    (tmp / "rules.yml").write_text(fast_rules())
    prom_config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "facecheck-gateway", "metrics_path": "/metrics",
                            "static_configs": [{"targets": targets}]}],
    }  # fmt: skip
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
    am_url, prom_url = f"http://{LOOPBACK}:{am_port}", f"http://{LOOPBACK}:{prom_port}"
    alertmanager = ManagedProcess(
        [binary("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"),
         f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
         f"--web.listen-address={LOOPBACK}:{am_port}", "--cluster.listen-address="],
        log_dir=tmp, name="alertmanager", cwd=tmp, base_url=am_url, ready_url=am_url + "/-/ready",
    )  # fmt: skip
    prometheus = ManagedProcess(
        [binary("prometheus", package="prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'prom-data'}", f"--web.listen-address={LOOPBACK}:{prom_port}",
         "--rules.alert.resend-delay=1s"],
        log_dir=tmp, name="prometheus", cwd=tmp, base_url=prom_url, ready_url=prom_url + "/-/ready",
    )  # fmt: skip
    alertmanager.start()
    try:
        prometheus.start()
        try:
            yield Prometheus(prom_url)
        finally:
            prometheus.terminate()
    finally:
        alertmanager.terminate()
