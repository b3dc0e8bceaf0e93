"""The hash chain: a canonical serialisation of an event and its keyed hash.

Each event's hash covers every stored field, its seq and its predecessor's hash, so altering,
inserting or deleting any row breaks the chain from that row on. The hash is an HMAC keyed with
a key derived from the gateway secret: someone with write access to the database but not the
secret cannot recompute a consistent chain after tampering.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64
# Every column the hash covers (all but `hash` itself), in the order they are stored.
FIELDS = (
    "seq", "time", "event_id", "action", "outcome", "code", "tenant_id", "key_id", "actor", "id_search",
    "images", "demo", "credits_reserved", "credits_charged", "credits_refunded", "cache", "result_count",
    "max_score", "upstream_ms", "client_ip", "user_agent", "request_id", "purpose", "case_id", "detail",
    "prev_hash",
)  # fmt: skip


def chain_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"facecheck-gateway audit chain v1", hashlib.sha256).digest()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(row: dict[str, Any]) -> bytes:
    values = {name: row.get(name) for name in FIELDS}
    if isinstance(values["time"], datetime):
        values["time"] = iso(values["time"])
    if values["max_score"] is not None:
        values["max_score"] = float(values["max_score"])
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def event_hash(key: bytes, row: dict[str, Any]) -> str:
    return hmac.new(key, canonical(row), hashlib.sha256).hexdigest()


class ChainBreak(Exception):
    """Where verification stopped: the seq and event id of the first bad event, and why."""

    def __init__(self, seq: int, event_id: str | None, reason: str) -> None:
        self.seq, self.event_id, self.reason = seq, event_id, reason
        super().__init__(f"audit chain broken at seq {seq} (event {event_id or '-'}): {reason}")


class Verifier:
    """Walks events in seq order from the anchor, one at a time (so any number fits in memory)."""

    def __init__(self, key: bytes, anchor_seq: int, anchor_hash: str) -> None:
        self._key = key
        self.seq = anchor_seq
        self.hash = anchor_hash
        self.event_id: str | None = None
        self.checked = 0

    def seen(self, row: dict[str, Any]) -> bool:
        """The last event checked, met again at the start of the next batch."""
        return self.event_id is not None and row.get("event_id") == self.event_id and int(row["seq"]) == self.seq

    def check(self, row: dict[str, Any]) -> None:
        seq, event_id = int(row["seq"]), row.get("event_id")
        if seq == self.seq:
            raise ChainBreak(seq, event_id, "a second event with this seq (inserted)")
        if seq != self.seq + 1:
            raise ChainBreak(self.seq + 1, None, f"missing (deleted); next present is seq {seq}")
        if row["prev_hash"] != self.hash:
            raise ChainBreak(seq, event_id, "prev_hash does not match its predecessor (inserted or altered)")
        if not hmac.compare_digest(event_hash(self._key, row), str(row["hash"])):
            raise ChainBreak(seq, event_id, "contents do not match its hash (altered)")
        self.seq, self.hash, self.event_id = seq, str(row["hash"]), event_id
        self.checked += 1

    def finish(self, head_seq: int, head_hash: str) -> None:
        """The head records the last event appended: anything after it was inserted, anything
        before it missing was deleted (including the last event itself)."""
        if self.seq != head_seq or self.hash != head_hash:
            raise ChainBreak(self.seq + 1 if self.seq < head_seq else self.seq, None,
                             f"chain ends at seq {self.seq} but the head records seq {head_seq}")
