"""LOG_FORMAT=auto: text when a person is reading the terminal, JSON lines everywhere else."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from app.config import Settings
from app.observability.logging import JsonFormatter, TextFormatter, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "expected"), [(Terminal(), TextFormatter), (io.StringIO(), JsonFormatter)])
def test_auto_follows_whether_stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO,
                                                  expected: type[logging.Formatter]) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", Settings(_env_file=None).log_format)
        [handler] = root.handlers
        assert type(handler.formatter) is expected
        # An explicit choice wins over the terminal.
        configure_logging("INFO", "json")
        assert type(root.handlers[0].formatter) is JsonFormatter
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
