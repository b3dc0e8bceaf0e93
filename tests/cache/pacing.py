"""Client load with a fixed pace, for the poll-coalescing tests.

The sleep here is the *shape of the load* (a client polling every 100 ms, as an impatient official
client would), not synchronisation: nothing waits for the gateway to reach some state by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def paced_clients(clients: int, every_s: float, for_s: float, call: Callable[[int], T]) -> list[T]:
    """Run `clients` loops in parallel, each calling `call(client_index)` every `every_s` seconds
    for `for_s` seconds; every result, in no particular order."""

    def loop(index: int) -> list[T]:
        results: list[T] = []
        end = time.monotonic() + for_s
        while time.monotonic() < end:
            started = time.monotonic()
            results.append(call(index))
            time.sleep(max(0.0, every_s - (time.monotonic() - started)))  # load shape: one poll per period
        return results

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [result for batch in pool.map(loop, range(clients)) for result in batch]
