"""The simulator forgets finished searches after a while and never keeps more than a bounded
number, so a long-running embedded gateway does not grow with every search it ever ran."""

from __future__ import annotations

import pytest

from app.sandbox import state as state_module
from app.sandbox.config import SandboxConfig
from app.sandbox.models import InputPic, SandboxError
from app.sandbox.state import RETAIN_SECONDS, SandboxState
from tests.fixtures.sandbox_app import FakeClock


def pic(n: int) -> list[InputPic]:
    return [InputPic(id_pic=f"p{n}", sha256=f"{n:064x}", thumbnail="")]


def test_finished_and_abandoned_searches_are_forgotten_after_the_retention() -> None:
    clock = FakeClock()
    state = SandboxState(SandboxConfig(queue_seconds=1, search_seconds=3), clock)
    finished = state.add_pics(None, pic(1)).id_search
    state.search(finished, status_only=False, demo=True)
    abandoned = state.add_pics(None, pic(2)).id_search  # uploaded, never submitted
    clock.advance(RETAIN_SECONDS / 2)
    recent = state.add_pics(None, pic(3)).id_search
    assert state.status(finished).final  # kept a while after it ended: clients still ask for it
    clock.advance(RETAIN_SECONDS / 2 + 5)
    for n in range(300):  # later traffic sweeps the old ones out
        state.add_pics(None, pic(10 + n))
    for gone in (finished, abandoned):
        with pytest.raises(SandboxError, match="not found"):
            state.status(gone)
    assert state.status(recent).id_search == recent
    assert len(state.searches) == 301


def test_never_more_than_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "MAX_SEARCHES", 50)
    state = SandboxState(SandboxConfig(), FakeClock())
    ids = [state.add_pics(None, pic(n)).id_search for n in range(120)]
    assert len(state.searches) <= 50
    assert ids[-1] in state.searches and ids[0] not in state.searches  # the oldest went first
