"""The durable spool: events the database could not take, appended as JSON lines and fsync'd
before the call they record is answered.

Each process appends to its own file (`spool-<pid>-<random>.jsonl`) and holds an exclusive
`flock` on it while alive, so a replayer never reads a file another live process is writing;
files left by a dead process are picked up by whichever process replays next. Replay may be cut
short by a crash at any point: every event carries a unique id, and the database skips ids it
already has, so each event goes in exactly once.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None
        self._path: Path | None = None

    def append(self, event: dict[str, Any]) -> None:
        """Write one event and fsync it; raises OSError when the spool cannot take it."""
        fd = self._own_fd()
        line = orjson.dumps(event) + b"\n"
        if os.write(fd, line) != len(line):
            raise OSError("short write to the audit spool")
        os.fsync(fd)

    def _own_fd(self) -> int:
        if self._fd is None:
            created = not self.directory.exists()
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"spool-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _fsync_dir(self.directory)  # the new file's name is durable too
            if created:
                _fsync_dir(self.directory.parent)
            self._fd, self._path = fd, path
        return self._fd

    @property
    def own_path(self) -> Path | None:
        return self._path

    def orphans(self) -> Iterator[tuple[Path, int]]:
        """Files of dead processes, each with its lock taken (the caller releases with `done`)."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("spool-*.jsonl")):
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its writer is alive and replays it itself
                continue
            yield path, fd

    @staticmethod
    def read(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Complete lines from `offset`, and the offset after them (a torn last line is left)."""
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        events = [orjson.loads(line) for line in data[:end].splitlines() if line.strip()]
        return events, offset + end

    def reset_own(self) -> None:
        """Everything in our file is in the database: empty it."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)

    @staticmethod
    def remove(path: Path, fd: int) -> None:
        path.unlink(missing_ok=True)
        os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            if self._path is not None and self._path.stat().st_size == 0:
                self._path.unlink(missing_ok=True)
            self._fd, self._path = None, None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
