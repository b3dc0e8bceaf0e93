"""The audit tests reuse the replica fixture of the quota tests (N gateways on one database)."""

from tests.quotas.conftest import start_replicas

__all__ = ["start_replicas"]
