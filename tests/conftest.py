"""Shared fixtures: real services (Postgres, Redis) and the gateway + sandbox process stack."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.pytest_services",
    "tests.fixtures.stack",
    "tests.fixtures.replicas",
    "tests.fixtures.store_backends",
]
