"""Reading /metrics the way Prometheus does (prometheus_client's own text parser)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.processes import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "dashboards" / "facecheck-gateway.json"
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
_NAME = re.compile(r"\bfacecheck_gateway_[a-z0-9_]+")

SampleKey = tuple[str, frozenset[tuple[str, str]]]


class Scrape:
    """One /metrics answer: its samples by (name, labels), and every metric name it exposes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[SampleKey, float] = {}
        self.names: set[str] = set()
        for family in text_string_to_metric_families(text):
            self.names.add(family.name)
            self.names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
            for sample in family.samples:
                self.names.add(sample.name)
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when the series does not exist yet."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Sum of every series of `name` whose labels include these."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def series(self, name: str) -> list[dict[str, str]]:
        return [dict(ls) for (n, ls), _ in self.samples.items() if n == name]


def scrape(base_url: str) -> Scrape:
    response = requests.get(base_url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def _exprs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def dashboard_queries(path: Path = DASHBOARD) -> list[str]:
    """Every PromQL query of the dashboard, panels and variables (`label_values(...)` is Grafana's own)."""
    return [expr for expr in _exprs(json.loads(path.read_text())) if not expr.startswith("label_values(")]


def dashboard_metric_names(path: Path = DASHBOARD) -> set[str]:
    """Every facecheck_gateway_* name the dashboard's queries (panels and variables) use."""
    return {name for expr in _exprs(json.loads(path.read_text())) for name in _NAME.findall(expr)}
