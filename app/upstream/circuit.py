"""Upstream circuit breaker: stop sending new work to an upstream that keeps failing.

Consecutive transport failures, timeouts and HTTP 5xx open the circuit. While it is open, new
uploads and submits fail at once (UPSTREAM_UNAVAILABLE with Retry-After) instead of each waiting
out a timeout, and nothing new is started that the gateway might then be unsure about. Status
checks, deletes and info still go (a search already running must be followed to settlement), but
only a probe, an /api/info call once the open period is over, closes the circuit again (half-open
while it runs). An in-band error is an answer, not a failure: upstream is up and said no.

State is per process; the metric takes the worst over a host's workers.
"""

from __future__ import annotations

import logging
import math
from enum import IntEnum

from app.clock import Clock
from app.errors import CircuitOpen
from app.observability import metrics

log = logging.getLogger("facecheck_gateway.upstream")


class CircuitState(IntEnum):
    """Values of `facecheck_gateway_circuit_state`."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(self, clock: Clock, *, failure_threshold: int, open_seconds: float) -> None:
        self._clock = clock
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._failures = 0
        self._opened_at = float("-inf")
        self.state = CircuitState.CLOSED
        metrics.CIRCUIT_STATE.set(self.state)

    @property
    def enabled(self) -> bool:
        return self._threshold > 0

    @property
    def closed(self) -> bool:
        return self.state == CircuitState.CLOSED

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_after(self) -> int:
        """Whole seconds until a probe may close the circuit (at least 1 while not closed)."""
        if self.state == CircuitState.CLOSED:
            return 0
        left = self._opened_at + self._open_seconds - self._clock.monotonic()
        return max(1, math.ceil(left))

    def probe_due(self) -> bool:
        """Open long enough that the next call should be a probe."""
        return (self.state == CircuitState.OPEN
                and self._clock.monotonic() - self._opened_at >= self._open_seconds)

    def refuse(self) -> CircuitOpen:
        """The fast failure of new work while the circuit is not closed (nothing was sent)."""
        wait = self.retry_after()
        return CircuitOpen(
            f"The face-search service is failing; new searches are paused. Retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )

    def start_probe(self) -> None:
        self._move(CircuitState.HALF_OPEN)

    def success(self, *, probe: bool = False) -> None:
        """Upstream answered. Only a probe closes an open circuit: one lucky status check among
        failures says little about whether new work would go through."""
        if self.state == CircuitState.CLOSED:
            self._failures = 0
        elif probe:
            self._failures = 0
            self._move(CircuitState.CLOSED)

    def failure(self, *, probe: bool = False) -> None:
        """A transport failure, a timeout or a 5xx."""
        if not self.enabled:
            return
        self._failures += 1
        if probe or (self.state == CircuitState.CLOSED and self._failures >= self._threshold):
            self._opened_at = self._clock.monotonic()
            self._move(CircuitState.OPEN)

    def _move(self, state: CircuitState) -> None:
        if state == self.state:
            return
        previous, self.state = self.state, state
        metrics.CIRCUIT_STATE.set(state)
        level = logging.WARNING if state == CircuitState.OPEN else logging.INFO
        log.log(level, "upstream circuit %s", state.name.lower().replace("_", "-"),
                extra={"circuit_from": previous.name.lower(), "circuit_to": state.name.lower(),
                       "consecutive_failures": self._failures})
