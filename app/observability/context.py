"""Facts about the current request that inner layers add to and the middleware reads at the end.

The access log and the request metrics need to know how long a request waited on upstream, which
tenant it served, and which error code it answered; those are found deep in the client, the
dependencies and the error renderer. A context variable carries one mutable record per request so
that none of those layers needs a reference to the request (and tasks spawned by the request, which
copy the context, still add to the same record).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RequestStats:
    # The ASGI scope's "state": deps.py stores the authenticated tenant name there.
    state: MutableMapping[str, Any] = field(default_factory=dict)
    upstream_seconds: float = 0.0
    # "hit", "miss" or "coalesced" once the result cache exists; None when it played no part.
    cache: str | None = None
    error_code: str | None = None

    @property
    def tenant(self) -> str | None:
        name = self.state.get("tenant")
        return name if isinstance(name, str) else None

    def overhead(self, elapsed: float) -> float:
        """The part of `elapsed` the gateway itself spent (never negative)."""
        return max(0.0, elapsed - self.upstream_seconds)


_current: ContextVar[RequestStats | None] = ContextVar("request_stats", default=None)


def begin(state: MutableMapping[str, Any]) -> tuple[RequestStats, Token[RequestStats | None]]:
    stats = RequestStats(state)
    return stats, _current.set(stats)


def end(token: Token[RequestStats | None]) -> None:
    _current.reset(token)


def current() -> RequestStats | None:
    return _current.get()


def add_upstream_time(seconds: float) -> None:
    """Count `seconds` as waiting on upstream for the current request (no-op outside a request)."""
    stats = _current.get()
    if stats is not None:
        stats.upstream_seconds += seconds


def note_error(code: str) -> None:
    """Remember the error code the current request answers with (errors are HTTP 200 in compat mode)."""
    stats = _current.get()
    if stats is not None:
        stats.error_code = code
