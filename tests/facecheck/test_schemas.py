from __future__ import annotations

import pytest

from app.errors import BadRequest, UnsupportedMediaType
from app.facecheck.schemas import parse_search_body


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "text/json",
                                   "application/problem+json", "application/*+json", "application/vnd.api+json",
                                   "Application/*+JSON; charset=utf-8", None])
def test_accepts_the_contract_media_types(ctype: str | None) -> None:
    req = parse_search_body(ctype, b'{"id_search": "abc", "with_progress": false, "demo": true}')
    assert (req.id_search, req.with_progress, req.status_only, req.demo) == ("abc", False, False, True)


def test_nulls_mean_defaults_and_unknown_fields_are_ignored() -> None:
    body = b'{"id_search": "abc", "with_progress": null, "status_only": null, "demo": null, "x": 1}'
    req = parse_search_body("application/json", body)
    assert (req.with_progress, req.status_only, req.demo) == (True, False, False)


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"with_progress": true}', "id_search is required"),
    (b'{"id_search": "a", "demo": "maybe"}', "demo"),
])
def test_malformed_bodies_get_bad_request(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_search_body("application/json", body)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                   "application/+json", "application/a/b+json", "text/*+json"])
def test_wrong_content_type(ctype: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_search_body(ctype, b'{"id_search": "abc"}')
