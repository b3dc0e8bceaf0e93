"""The JSON bodies the simulated upstream answers with.

Every envelope carries all seven keys, null when unused, because real clients index them directly and
crash on a missing key (UPSTREAM.md). Newer-revision fields appear only when ``extra_fields`` asks.
"""

from __future__ import annotations

from typing import Any

from app.sandbox.config import SandboxConfig
from app.sandbox.models import InputPic, Phase, Status
from app.sandbox.results import build_results, render_output, with_prefix

ERROR_CODE = "EXCEPTION"
AUTH_FAILED = "Invalid API token!"
OFFLINE = "Search engine is offline."
SEARCH_FAILED = "Search failed."


def envelope(
    config: SandboxConfig,
    *,
    id_search: str | None = None,
    message: str | None = None,
    progress: int | None = None,
    error: str | None = None,
    code: str | None = None,
    input_: list[dict[str, Any]] | None = None,
    output: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_search": id_search,
        "message": message,
        "progress": progress,
        "error": error,
        "code": code,
        "input": input_,
        "output": output,
    }
    if config.extra_fields:
        body["hasEmptyImages"] = False
    return body


def error_envelope(config: SandboxConfig, message: str, id_search: str | None = None) -> dict[str, Any]:
    """In-band failure: ``code`` is always EXCEPTION, the only code observed upstream."""
    return envelope(config, id_search=id_search, error=message, code=ERROR_CODE)


def render_input(config: SandboxConfig, pics: list[InputPic]) -> list[dict[str, Any]]:
    return [
        {
            "id_pic": pic.id_pic,
            "base64": with_prefix(pic.thumbnail, config.base64_prefix),
            "svg_anim": None,
            "url_source": None,
        }
        for pic in pics
    ]


def status_envelope(config: SandboxConfig, status: Status) -> dict[str, Any]:
    """Report a search; ``output`` is non-null only once the search is final, with progress 100."""
    id_search = status.id_search
    match status.phase:
        case Phase.NOT_SUBMITTED:
            return envelope(config, id_search=id_search, message="Search not submitted yet.")
        case Phase.QUEUED:
            message = f"Waiting in queue. Position: {status.position}"
            return envelope(config, id_search=id_search, message=message, progress=0)
        case Phase.SEARCHING:
            return envelope(config, id_search=id_search, message="Searching...", progress=status.progress)
        case Phase.FAILED:
            return error_envelope(config, SEARCH_FAILED, id_search)
    results = build_results(status.results_key, status.demo, config.faces, status.images_in_bundle)
    output = render_output(
        results,
        url_shape=config.url_shape,
        base64_prefix=config.base64_prefix,
        extra_fields=config.extra_fields,
    )
    return envelope(config, id_search=id_search, message="Search completed.", progress=100, output=output)


def info_body(config: SandboxConfig, credits: int, cost: int) -> dict[str, Any]:
    """Exactly the four InfoResponse keys: the contract forbids any other."""
    return {
        "remaining_credits": credits,
        "has_credits_to_search": credits >= cost,
        "is_online": not config.offline,
        "faces": config.faces,
    }
