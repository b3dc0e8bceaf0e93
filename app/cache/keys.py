"""Cache keys and scopes.

A key is an HMAC (server secret) over the sorted image hashes, the demo flag and the scope, so the
same photos in any order map to one key, and a key seen in Redis reveals nothing about the photos
without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

OFF = "off"
# A tenant's stored `cache_scope` may say "none" (the admin API's word) for off.
_OFF_WORDS = frozenset({OFF, "none"})


def effective_scope(default: str, tenant_override: str | None) -> str:
    """"tenant", "global" or "off": the tenant's own choice when it made one, else the default."""
    chosen = tenant_override or default
    return OFF if chosen in _OFF_WORDS else chosen


def scope_name(scope: str, tenant_id: str) -> str:
    """The namespace results are shared in: one per tenant, or one for everybody."""
    return "global" if scope == "global" else f"tenant:{tenant_id}"


def cache_key(secret: bytes, sha256s: Iterable[str], demo: bool, namespace: str) -> str:
    message = "\n".join(["v1", namespace, "demo" if demo else "full", *sorted(sha256s)])
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def wants_fresh(cache_control: str | None) -> bool:
    """`Cache-Control: no-cache` (or no-store) on a request: skip the cache, run a new search."""
    directives = {part.split("=", 1)[0].strip().lower() for part in (cache_control or "").split(",")}
    return bool(directives & {"no-cache", "no-store"})
