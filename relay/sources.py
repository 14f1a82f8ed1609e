"""Who sent a request: the peer address, or X-Forwarded-For when (and only when) the peer is a proxy we
trust by configuration. Anyone can write an X-Forwarded-For header, so believing it from an untrusted
peer would let a forger walk through the Safaricom allow-list (docs/daraja.md §5)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _in(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: tuple[str, ...]) -> str:
    """The first address, walking X-Forwarded-For from the right, that is not a trusted proxy."""
    trusted = _networks(trusted_proxies)
    if not forwarded_for or not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def is_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    return _in(address, _networks(allowed))
