"""The settlement table: which upstream answers settle a search, and which settle nothing."""

from __future__ import annotations

from typing import Any

import pytest

from app.facecheck.verdicts import Verdict, of_status, of_submit

OUTPUT = {"items": [], "searchedFaces": 1}


def envelope(**values: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict.fromkeys(("id_search", "message", "progress", "error", "code", "input", "output"))
    return {**body, **values}


@pytest.mark.parametrize(("body", "verdict"), [
    (envelope(progress=100, output=OUTPUT), Verdict.FINISHED),
    (envelope(error="Not enough credits", code="EXCEPTION"), Verdict.REFUSED),
    (envelope(error="Search engine is offline.", code="EXCEPTION"), Verdict.REFUSED),
    (envelope(message="Waiting in queue. Position: 1", progress=0), Verdict.RUNNING),
    (envelope(message="Search not submitted yet."), Verdict.UNKNOWN),
    ({}, Verdict.UNKNOWN),
])  # fmt: skip
def test_submit_answers(body: dict[str, Any], verdict: Verdict) -> None:
    assert of_submit(body) is verdict


@pytest.mark.parametrize(("body", "verdict"), [
    (envelope(progress=100, output=OUTPUT), Verdict.FINISHED),
    (envelope(error="Search failed.", code="EXCEPTION"), Verdict.FAILED),
    (envelope(error="Search engine is offline.", code="EXCEPTION"), Verdict.UNKNOWN),
    (envelope(error="Search request not found", code="EXCEPTION"), Verdict.UNKNOWN),
    (envelope(error="Invalid API token!", code="EXCEPTION"), Verdict.UNKNOWN),
    (envelope(error="Search failed because of something new", code="EXCEPTION"), Verdict.UNKNOWN),
    (envelope(message="Searching...", progress=40), Verdict.RUNNING),
    (envelope(message="Waiting in queue. Position: 3", progress=0), Verdict.RUNNING),
    (envelope(message="Search not submitted yet."), Verdict.NOT_STARTED),
])  # fmt: skip
def test_status_answers(body: dict[str, Any], verdict: Verdict) -> None:
    assert of_status(body) is verdict
