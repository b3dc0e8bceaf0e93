"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", sent as `t=<timestamp>,v1=<hex>`.

Each tenant's signing secret is derived from the server secret and a random salt kept with the
webhook, so it is never stored, and rotating it is replacing the salt.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Gateway-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PREFIX = "whsec_"


def signing_secret(server_secret: bytes, salt: str) -> str:
    digest = hmac.new(server_secret, b"budget-webhook:" + salt.encode(), hashlib.sha256).hexdigest()
    return _PREFIX + digest


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_seconds: float = 300) -> bool:
    """What a receiver does (docs/webhooks.md): recompute, compare in constant time, refuse old stamps."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
