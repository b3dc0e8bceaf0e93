"""Gateways for the result-cache tests: one process on either backend (the same suite runs on the
in-process store and on Redis), or several replicas sharing Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.replicas import Replicas, StartGateway, StartReplicas


@pytest.fixture(params=["memory", "redis"])
def start_gateway(request: pytest.FixtureRequest, start_replicas: StartReplicas) -> StartGateway:
    """One gateway process on the parametrized cache backend; keyword arguments become settings."""

    def start(**settings: Any) -> Replicas:
        return start_replicas(1, redis=request.param == "redis", **settings)

    return start
