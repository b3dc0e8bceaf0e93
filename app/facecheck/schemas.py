"""Parsing of the drop-in requests. Responses are upstream's own envelopes, passed through."""

from __future__ import annotations

import re

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from app.errors import BadRequest, UnsupportedMediaType

# The contract's three JSON media types (`application/*+json` is listed literally, and clients
# generated from the contract send it so); a missing type is tolerated, as upstream does.
_JSON_TYPE = re.compile(r"^(application/json|text/json|application/([\w.-]+|\*)\+json)$")
ID_SEARCH = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SearchRequest(BaseModel):
    """`SearchData` from the contract. Null flags mean their defaults; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id_search: str
    with_progress: bool = True
    status_only: bool = False
    demo: bool = False
    id_captcha: str | None = None


def parse_search_body(content_type: str | None, raw: bytes) -> SearchRequest:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and not _JSON_TYPE.match(media):
        raise UnsupportedMediaType(f"/api/search takes a JSON body (application/json), not {media}.")
    if not raw.strip():
        raise BadRequest("The request body is empty; send JSON with at least id_search.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    cleaned = {k: v for k, v in data.items() if v is not None}
    if not cleaned.get("id_search"):
        raise BadRequest("id_search is required.")
    try:
        return SearchRequest.model_validate(cleaned)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"Invalid field '{field}': {first['msg']}.") from exc
