"""Apply migrations programmatically, safely when several processes start at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["configure_logger"] = False
    return cfg


@contextmanager
def _sqlite_lock(settings: Settings) -> Iterator[None]:
    """Postgres serialises migrators with an advisory lock (in env.py); SQLite with a file lock."""
    if not settings.is_sqlite:
        yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / ".migrate.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(settings: Settings, revision: str = "head") -> None:
    with _sqlite_lock(settings):
        command.upgrade(alembic_config(settings.effective_database_url), revision)


def downgrade(settings: Settings, revision: str) -> None:
    with _sqlite_lock(settings):
        command.downgrade(alembic_config(settings.effective_database_url), revision)
