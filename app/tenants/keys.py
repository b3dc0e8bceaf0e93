"""API key format, hashing and extraction from request headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

KEY_PREFIX = "fcg_"
# `search`: upload_pic, search, delete_pic; `info`: /api/info; `admin`: the /admin API.
SCOPES = frozenset({"search", "info", "admin"})
DEFAULT_SCOPES = frozenset({"search", "info"})


def generate_key() -> str:
    """A new clear key: the prefix makes leaked keys greppable; 256 random bits make them unguessable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: bytes, key: str) -> str:
    """Keys are looked up by this digest; the clear key is never stored."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """FaceCheck clients send the raw token in Authorization; others add `Bearer ` or use X-API-Key."""
    value = headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    if not value:
        value = headers.get("x-api-key", "").strip()
    return value or None
