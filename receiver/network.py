"""Who is asking, and may they send events? Pure: addresses and networks in, answers out.

The client is the peer of the TCP connection, unless that peer is one of the configured
``trusted_proxies``: then ``X-Forwarded-For`` is read from the right, skipping trusted
proxies, and the first address that is not one is the client. From any other peer the header
is ignored, since anyone can write it. The allow-list (``allow_networks``) then says whether
that client may send events; empty means everyone (the token still decides).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR ranges (``34.74.90.64/28``; a bare address is a /32 or /128), or ValueError
    naming the first that is not one (host bits set count as a mistake, not a wider net)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network such as 34.74.90.64/28: {exc}") from exc
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as a peer or a proxy writes it (IPv4-mapped IPv6 is IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: Sequence[str],
                   trusted_proxies: Sequence[Network]) -> Address | None:
    """The client's address, or None when it cannot be told (no peer, or a trusted proxy
    that forwarded something that is not an address)."""
    address = parse_address(peer) if peer else None
    if address is None or not _within(address, trusted_proxies):
        return address
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        forwarded = parse_address(hop)
        if forwarded is None:
            return None
        address = forwarded
        if not _within(address, trusted_proxies):
            return address
    return address  # every hop is a trusted proxy: the left-most one is the client


def allowed(address: Address | None, allow_networks: Sequence[Network]) -> bool:
    """Whether ``address`` may send events: always with no allow-list, never when unknown."""
    if not allow_networks:
        return True
    return address is not None and _within(address, allow_networks)


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network
               for network in networks)
