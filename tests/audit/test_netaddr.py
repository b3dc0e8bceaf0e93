"""X-Forwarded-For is believed only from trusted proxies, and only up to the first untrusted hop."""

from __future__ import annotations

import pytest

from app.netaddr import client_ip, parse_networks

TRUSTED = parse_networks("10.0.0.0/8, 192.168.1.1")


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not a proxy of ours: the header is ignored
    ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
    ("10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client wrote 6.6.6.6; our proxy appended 1.2.3.4
    ("10.0.0.5", "6.6.6.6, 1.2.3.4, 192.168.1.1", "1.2.3.4"),  # through two trusted proxies
    ("10.0.0.5", None, "10.0.0.5"),
    ("10.0.0.5", "10.1.1.1", "10.1.1.1"),  # every hop trusted: the leftmost is the best we know
])  # fmt: skip
def test_client_ip(peer: str, forwarded: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip("10.0.0.5", "1.2.3.4", ()) == "10.0.0.5"
