"""Preparing the shared metrics folder before `serve` starts its workers.

prometheus_client chooses between in-memory and file-backed samples once, when it is first
imported, from the PROMETHEUS_MULTIPROC_DIR environment variable. So `serve` must export that
variable before anything imports it: the worker processes uvicorn spawns inherit it, and so does
the single in-process worker. This module therefore imports nothing from prometheus_client.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_dir(configured: str, workers: int) -> Iterator[Path | None]:
    """Export a fresh metrics folder for the workers' lifetime; None when one worker needs none.

    A configured folder is emptied of old sample files (stale counts would be added to new ones);
    a temporary one is made when several workers are asked for and removed afterwards.
    """
    if not configured:
        # Present but empty (an env file's `PROMETHEUS_MULTIPROC_DIR=`) would still switch
        # prometheus_client to files, with no folder to write them to.
        os.environ.pop(ENV, None)
        if workers <= 1:
            yield None
            return
    if workers <= 1 and "prometheus_client" in sys.modules:
        # This process will serve: its metrics must not exist yet (in memory, or in files about to be cleared).
        raise RuntimeError(f"{ENV} must be prepared before prometheus_client is imported")
    temporary = not configured
    path = Path(tempfile.mkdtemp(prefix="facecheck-gateway-metrics-")) if temporary else Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        if temporary:
            shutil.rmtree(path, ignore_errors=True)
