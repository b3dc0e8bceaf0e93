"""The in-process quota store keeps no rate window for a key that has gone quiet."""

from __future__ import annotations

from app.quotas.memory import MemoryStore
from tests.quotas.test_store import at


async def test_quiet_keys_leave_no_rate_window_behind() -> None:
    store = MemoryStore()
    for n in range(500):
        await store.hit_rate("tenant", None, f"key-{n}", 10, at(0))
    assert len(store._windows) == 500
    await store.hit_rate("tenant", None, "key-late", 10, at(61))  # a minute later
    assert list(store._windows) == [("key", "key-late")]
