"""What an upstream answer means for a search's money: the table "Which upstream answers are
terminal" in docs/money.md, as code. When in doubt, an answer is not terminal.

Pure functions of upstream's envelope, so the rule is tested on its own and every caller (a submit,
a client's poll, the tracker, a stale claim) applies the same one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# In-band errors on a status check that say the run itself failed (upstream refunds it). Every other
# in-band error on a status check (offline, not found, a bad token...) says nothing about the run.
TERMINAL_FAILURES = frozenset({"Search failed."})


class Verdict(StrEnum):
    FINISHED = "finished"  # final output: commit
    FAILED = "failed"  # upstream says the run failed: refund
    REFUSED = "refused"  # upstream's answer to the submit refused it: never started, refund
    RUNNING = "running"  # started, not over: keep holding
    NOT_STARTED = "not_started"  # a status check shows a search upstream never started
    UNKNOWN = "unknown"  # upstream could not tell: keep holding, keep asking


def of_submit(body: dict[str, Any]) -> Verdict:
    """Upstream's answer to the submit itself (it arrived, readable, HTTP 200)."""
    if body.get("output") is not None:
        return Verdict.FINISHED
    if body.get("error"):
        return Verdict.REFUSED
    if body.get("progress") is not None:
        return Verdict.RUNNING
    return Verdict.UNKNOWN


def of_status(body: dict[str, Any]) -> Verdict:
    """Upstream's answer to a status check (`status_only`) of a search it was asked to run."""
    if body.get("output") is not None:
        return Verdict.FINISHED
    error = body.get("error")
    if error:
        return Verdict.FAILED if str(error).strip() in TERMINAL_FAILURES else Verdict.UNKNOWN
    if body.get("progress") is not None:
        return Verdict.RUNNING
    return Verdict.NOT_STARTED
