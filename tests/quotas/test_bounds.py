"""The in-process quota store keeps no rate window for a key that has gone quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.quotas.memory import MemoryStore


def at(seconds: float) -> datetime:
    return datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)


async def test_quiet_keys_leave_no_rate_window_behind() -> None:
    store = MemoryStore()
    for n in range(500):
        await store.hit_rate("tenant", None, f"key-{n}", 10, at(0))
    assert len(store._windows) == 500
    await store.hit_rate("tenant", None, "key-late", 10, at(61))  # a minute later
    assert list(store._windows) == [("key", "key-late")]
