from __future__ import annotations

import pytest

from app.tenants.keys import KEY_PREFIX, generate_key, hash_key, key_from_headers


@pytest.mark.parametrize(("headers", "expected"), [
    ({"authorization": "fcg_abc"}, "fcg_abc"),
    ({"authorization": "Bearer fcg_abc"}, "fcg_abc"),
    ({"authorization": "bearer  fcg_abc "}, "fcg_abc"),
    ({"x-api-key": "fcg_abc"}, "fcg_abc"),
    ({"authorization": "", "x-api-key": "fcg_abc"}, "fcg_abc"),
    ({}, None),
    ({"authorization": "Bearer "}, None),
])
def test_key_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert key_from_headers(headers) == expected


def test_keys_are_random_prefixed_and_hashed_with_the_secret() -> None:
    a, b = generate_key(), generate_key()
    assert a != b and a.startswith(KEY_PREFIX) and len(a) >= 40
    assert hash_key(b"s1", a) != hash_key(b"s2", a)
    assert hash_key(b"s1", a) == hash_key(b"s1", a)
    assert a not in hash_key(b"s1", a)
