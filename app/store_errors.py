"""What every Redis-backed store shares: the "store cannot answer" error, the translation of Redis
failures into it, and the loader of the stores' Lua scripts (one file per atomic operation)."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import cache
from importlib.resources import files
from typing import TypeVar

from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    ReadOnlyError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

# "Redis cannot answer now": a lost or refused connection, a timeout, a demoted primary refusing a
# write script before running it, a cluster whose slot is down or moving (Redis Cluster), no primary
# known (Sentinel). Python's TimeoutError is an OSError, so asyncio timeouts are included. Anything
# else (a script error) is a bug and is not hidden as an outage.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, ReadOnlyError, ClusterDownError, SlotNotCoveredError,
    TryAgainError, MasterDownError, RedisClusterException, OSError,
)  # fmt: skip


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
