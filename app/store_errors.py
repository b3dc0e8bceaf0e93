"""What every Redis-backed store shares: the "store cannot answer" error, the translation of Redis
failures into it, and the loader of the stores' Lua scripts (one file per atomic operation)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import cache
from importlib.resources import files
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

# Failures that mean "Redis cannot answer now" (a read-only replica during failover refuses a write
# script before running it). Python's TimeoutError is an OSError, so asyncio timeouts are included.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)


class StoreUnavailable(Exception):
    """The store cannot be reached. A timeout cannot promise that nothing changed: every operation
    is idempotent per search id, and reconciliation against the database settles the rest."""


async def translated(operation: Awaitable[T]) -> T:
    """Await one Redis operation; a lost or slow Redis becomes StoreUnavailable."""
    try:
        return await operation
    except UNAVAILABLE as exc:
        raise StoreUnavailable(f"redis unavailable: {exc!r}") from exc


@cache
def lua(package: str, name: str) -> str:
    """The script `<package>/lua/<name>.lua` (read once per process)."""
    return files(package).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
