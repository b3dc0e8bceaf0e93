"""The records the simulator keeps: searches, their images, computed status and counters.

Plain data with no behaviour beyond rendering, so that the logic in ``state`` reads as a story.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass, field
from enum import StrEnum

SEARCH_COST = 3
MAX_IMAGES = 3
_ID_HEAD = string.ascii_lowercase + string.digits
_ID_TAIL = string.ascii_letters + string.digits + "-_"


class SandboxError(Exception):
    """An in-band upstream error: HTTP 200 with ``error`` set and ``code`` EXCEPTION."""

    def __init__(self, message: str, id_search: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.id_search = id_search


@dataclass
class Stats:
    """What the simulated upstream has seen; tests assert on these to prove the gateway's savings."""

    uploads: int = 0
    search_submits: int = 0
    status_polls: int = 0
    duplicate_submits: int = 0
    deletes: int = 0
    info_calls: int = 0
    credits_spent: int = 0
    failed_searches: int = 0
    http_5xx: int = 0
    timeouts: int = 0
    lost_answers: int = 0
    status_errors: int = 0
    slow_answers: int = 0
    invalid_token: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class InputPic:
    id_pic: str
    sha256: str
    thumbnail: str
    """Base64 WebP preview without the data-URI prefix (added at render time per config)."""


@dataclass
class Search:
    id_search: str
    pics: list[InputPic] = field(default_factory=list)
    submitted_at: float | None = None
    demo: bool = False
    will_fail: bool = False
    late_output: bool = False
    """Reported failed when the run ends, then delivered ``late_output_seconds`` later (charged)."""
    charged: int = 0
    refunded: bool = False
    results_key: str = ""
    images_in_bundle: int = 0
    created_at: float = 0.0


class Phase(StrEnum):
    NOT_SUBMITTED = "not_submitted"
    QUEUED = "queued"
    SEARCHING = "searching"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Status:
    id_search: str
    phase: Phase
    progress: int | None = None
    position: int = 0
    seconds_left: float = 0.0
    results_key: str = ""
    demo: bool = False
    images_in_bundle: int = 0

    @property
    def final(self) -> bool:
        return self.phase in (Phase.DONE, Phase.FAILED)


def new_id_search() -> str:
    """Shaped like FaceCheck's ids (``3vdi8t-s_8DAAA7D5E784616``) so clients that parse them still work."""
    head = "".join(secrets.choice(_ID_HEAD) for _ in range(6))
    return head + "-" + "".join(secrets.choice(_ID_TAIL) for _ in range(17))


def new_id_pic() -> str:
    return secrets.token_urlsafe(12)
