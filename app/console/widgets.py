"""Overview figures whose source is not part of this gateway yet. Each reads through one function
that answers None ("not available") until the feature that owns the number exists."""

from __future__ import annotations

from typing import Any


def circuit_state(state: Any) -> str | None:
    """The upstream circuit breaker's state ("closed", "open", "half-open"), once there is one.
    `state` is the app's state: the breaker, when one exists, is among the lifespan's objects."""
    breaker = getattr(getattr(state, "resources", None), "breaker", None)
    state = getattr(breaker, "state", None)
    return str(state) if state is not None else None


def ledger_drift(state: Any) -> int | None:
    """Credits by which the gateway's ledger and upstream's balance disagree, once a ledger exists."""
    ledger = getattr(getattr(state, "resources", None), "ledger", None)
    drift = getattr(ledger, "drift", None)
    return int(drift) if isinstance(drift, int) else None
