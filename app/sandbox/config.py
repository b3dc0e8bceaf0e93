"""Knobs of the FaceCheck simulator.

One validated model so that the same values can come from code, from tests, or at runtime through
``POST /_sandbox/config`` without a half-valid state ever being installed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxConfig(BaseModel):
    """Behaviour of the simulated upstream; defaults mimic a healthy FaceCheck.ID."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tokens: list[str] = Field(default_factory=lambda: ["sandbox"])
    """API tokens accepted in ``Authorization`` (raw or ``Bearer``)."""
    initial_credits: int = Field(default=1000, ge=0)
    faces: int = Field(default=212417831, ge=0)
    """Size of the simulated index, reported by /api/info and in non-demo results."""

    queue_seconds: float = Field(default=1.0, ge=0)
    search_seconds: float = Field(default=3.0, ge=0)
    max_wait_seconds: float = Field(default=60.0, ge=0)
    """Cap on how long a ``with_progress: false`` call waits for the search to finish."""

    latency_ms: int = Field(default=0, ge=0)
    """Added to every /api call, before any other fault."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of newly submitted searches that end with an in-band error (credits refunded)."""
    http_5xx_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of /api calls answered HTTP 503 with an HTML body, as a load balancer would."""
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of /api calls that hang for ``hang_seconds`` before answering normally."""
    hang_seconds: float = Field(default=30.0, ge=0)

    lost_answer_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of new submits that are processed (and charged) but whose answer never arrives intact."""
    lost_answer_mode: Literal["hang", "drop", "http_503"] = "hang"
    """How a lost answer is lost: held for ``hang_seconds`` (past the client's timeout), the connection
    dropped mid-answer, or replaced by a load balancer's HTTP 503."""
    status_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of status checks answered with the in-band offline error while the runs go on (and charge)."""
    lost_upload_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of uploads that are processed (the images stored under a new or the given id_search)
    but whose answer is lost the same way (``lost_answer_mode``): the client never learns the ids."""
    delete_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of deletes answered ``Search engine is offline.`` without deleting anything."""
    late_output_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of newly submitted searches reported failed (``Search failed.``) when their run ends,
    then delivered with their output ``late_output_seconds`` later; charged, never refunded."""
    late_output_seconds: float = Field(default=5.0, ge=0)
    slow_answer_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of /api calls processed at once whose (successful) answer waits ``slow_answer_seconds``."""
    slow_answer_seconds: float = Field(default=2.0, ge=0)

    offline: bool = False
    """Search engine offline: every /api call but info answers an in-band error."""
    url_shape: Literal["string", "object"] = "string"
    """Result ``url`` as a string (examples) or ``{"value": ...}`` (newer spec): both exist in the wild."""
    base64_prefix: bool = True
    """Whether thumbnails carry the ``data:image/webp;base64,`` prefix: both exist in the wild."""
    extra_fields: bool = False
    """Send fields newer upstream revisions add (``seen``, ``scaned_till_index``, ``hasEmptyImages``)."""
    seed: int = 0
    """Seeds results, failure draws and fault draws so runs are reproducible."""
