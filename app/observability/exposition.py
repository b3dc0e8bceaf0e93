"""Rendering /metrics, in one process or combined over several worker processes.

With several workers each one writes its samples to files in PROMETHEUS_MULTIPROC_DIR and whichever
worker answers a scrape sums them all. Files only exist for series that were touched, so metrics
that no worker has used yet are added as empty families: every metric name a dashboard queries is
in the output from the first scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from app.observability.metrics import DEFINED

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_mode() -> bool:
    """Whether prometheus_client writes samples to shared files (decided when it was imported)."""
    return values.ValueClass is not values.MutexValue


class _AllWorkers(Collector):
    """Samples summed over every worker's files, plus an empty family for each untouched metric."""

    def __init__(self) -> None:
        self._files = MultiProcessCollector(None)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        seen: set[str] = set()
        for family in self._files.collect():  # type: ignore[no-untyped-call]
            seen.add(family.name)
            yield family
        for metric in DEFINED:
            for family in metric.describe():
                if family.name not in seen:
                    yield family


def render() -> bytes:
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    registry.register(_AllWorkers())
    return generate_latest(registry)


def worker_exited() -> None:
    """Drop this worker's live gauges (in-flight, spool depth, up/down) from the shared files."""
    if multiprocess_mode():
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
