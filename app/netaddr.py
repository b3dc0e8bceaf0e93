"""The client's address, believing X-Forwarded-For only from trusted proxies.

One helper for everything that keys on the caller's address (the audit log, the authentication
brake), so a client cannot dodge the brake or forge its recorded address with a header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def trusted(address: str | None, networks: Sequence[Network]) -> bool:
    """The address is one of the trusted proxies (whose forwarded headers are believed)."""
    return address is not None and _trusted(address, networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The peer address, unless the peer is a trusted proxy: then the rightmost X-Forwarded-For hop
    that is not itself a trusted proxy (hops to its left could be written by the client)."""
    address = peer or "unknown"
    if not forwarded_for or not trusted or not _trusted(address, trusted):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
        address = hop
    return address[:64]
