"""The caller's real address behind proxies: forwarded headers are believed only from trusted hops.

A client can send any `X-Forwarded-For`, so the header means something only when the TCP peer
is one of our own proxies (the ingress, the web gateway). From such a peer the address is the
right-most hop that is not itself a trusted proxy: every hop to the right of it was added by
infrastructure we trust, everything to its left was written by the client and may be forged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses ("10.0.0.0/8", "fd00::/8", "127.0.0.1"); raises ValueError."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def peer_host(peer: str) -> str:
    """grpc's peer string → the address: "ipv4:10.1.2.3:5000" → "10.1.2.3", "ipv6:[::1]:5000" → "::1"."""
    host = peer.split(":", 1)[1] if ":" in peer else peer
    if host.startswith("["):
        return host[1 : host.rfind("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _address(text: str) -> Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # Forwarded: for="[2001:db8::1]:443"
        value = value[1 : value.find("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _forwarded_for(header: str) -> list[str]:
    """RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]"` → the `for` values."""
    out = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                out.append(value)
    return out


def _hops(metadata: Mapping[str, str]) -> list[str]:
    # Forwarded is the standard; X-Forwarded-For the common practice. When both came, the standard
    # one wins (a proxy that writes it knows what it does).
    forwarded = metadata.get("forwarded", "")
    if forwarded:
        return _forwarded_for(forwarded)
    return [h for h in metadata.get("x-forwarded-for", "").split(",") if h.strip()]


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str, metadata: Mapping[str, str], trusted: tuple[Network, ...]) -> str:
    """The address the per-client limits key on. Without trusted proxies, the TCP peer."""
    host = peer_host(peer)
    if not trusted:
        return host
    peer_address = _address(host)
    if peer_address is None or not _trusted(peer_address, trusted):
        return host  # a direct client: its headers are its own words
    for hop in reversed(_hops(metadata)):
        address = _address(hop)
        if address is None:
            return host  # garbage from a hop we trust to be sane: do not guess past it
        if not _trusted(address, trusted):
            return str(address)
    return host  # every hop is ours (a health checker inside the cluster)
