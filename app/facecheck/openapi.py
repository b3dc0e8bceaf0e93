"""How the drop-in routes appear in /openapi.json. The routes read their bodies themselves (to answer
malformed ones with FaceCheck's envelope, not FastAPI's), so their bodies and answers are declared
here, after the upstream contract: multipart `images` + `id_search`, `SearchData` JSON, the envelope."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.facecheck.schemas import SearchRequest


class InputImage(BaseModel):
    base64: str | None = None
    id_pic: str | None = None
    url_source: str | None = None


class Envelope(BaseModel):
    """FaceCheck's BrowserJsonResponse: every key is always present; errors come in `error` and `code`
    (with HTTP 200, as upstream does, unless API_ERROR_STATUS=http)."""

    id_search: str | None
    message: str | None
    progress: int | None
    error: str | None
    code: str | None
    input: list[InputImage] | None
    output: dict[str, Any] | None = Field(description="Search_Results once the search is final, else null")


class InfoResponse(BaseModel):
    """Upstream's info, with `remaining_credits` the calling tenant's own budget when it has one."""

    remaining_credits: int | None = None
    has_credits_to_search: bool | None = None
    is_online: bool | None = None
    faces: int | None = None


ENVELOPE: dict[int | str, dict[str, Any]] = {200: {"model": Envelope, "description": "The FaceCheck envelope"}}
SEARCH_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "model": Envelope, "description": "The FaceCheck envelope",
    "headers": {"X-Cache": {
        "description": "HIT: answered from the result cache; COALESCED: answered by another caller's upstream "
                       "call (attached to an identical search, or a poll served from the shared status); "
                       "MISS: this call went upstream",
        "schema": {"type": "string", "enum": ["HIT", "MISS", "COALESCED"]},
    }},
}}  # fmt: skip
INFO: dict[int | str, dict[str, Any]] = {
    200: {"model": InfoResponse, "description": "Credits, online status and indexed faces; or an envelope error"}
}

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["images"],
                "properties": {
                    "images": {"type": "array", "minItems": 1, "maxItems": 3,
                               "items": {"type": "string", "format": "binary"}},
                    "id_search": {"type": "string", "description": "add the images to this search request"},
                },
            },
            "encoding": {"images": {"style": "form"}, "id_search": {"style": "form"}},
        }},
    }
}  # fmt: skip

_SEARCH_SCHEMA = SearchRequest.model_json_schema()
SEARCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": _SEARCH_SCHEMA} for media in ("application/json", "text/json",
                                                                     "application/*+json")},
    },
    "parameters": [{
        "name": "Cache-Control", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "`no-cache` runs a fresh, charged upstream search instead of answering from the cache",
    }],
}
