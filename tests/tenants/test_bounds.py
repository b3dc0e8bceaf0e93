"""Per-process maps of authentication stay bounded whatever the traffic: the brute-force brake's
addresses and the key cache's entries."""

from __future__ import annotations

from app.tenants.throttle import MAX_ADDRESSES, MemoryThrottle
from tests.fixtures.clock import ManualClock


async def test_the_brake_remembers_a_bounded_number_of_addresses() -> None:
    throttle = MemoryThrottle(ManualClock(), limit=3, window_seconds=60)
    for n in range(MAX_ADDRESSES * 3):  # a flood of distinct addresses, all within one window
        await throttle.failed(f"2001:db8::{n:x}")
    assert len(throttle._counts) <= MAX_ADDRESSES
    for _ in range(3):  # the newest addresses are still counted and braked
        await throttle.failed("203.0.113.9")
    assert await throttle.retry_after("203.0.113.9") > 0
