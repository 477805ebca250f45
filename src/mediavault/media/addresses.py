"""Which IP addresses an upload by URL may connect to: pure rules, no I/O.

Python's `is_global` alone is not enough: on 3.11 it calls multicast (224.0.0.1), Oracle's
metadata address (192.0.0.192), 6to4 and NAT64 addresses that embed a private IPv4, and even
`::ffff:8.8.8.8` global. So the refused ranges are listed here, by what they reach, and
`is_global` only catches what the list misses; IPv6 forms that carry an IPv4 address are judged
by that address too.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address

REFUSED_NETWORKS: dict[str, tuple[IPv4Network | IPv6Network, ...]] = {
    "unspecified or 'this network'": (ip_network("0.0.0.0/8"), ip_network("::/128")),
    "loopback": (ip_network("127.0.0.0/8"), ip_network("::1/128")),
    "private": (
        ip_network("10.0.0.0/8"),
        ip_network("172.16.0.0/12"),
        ip_network("192.168.0.0/16"),
        ip_network("fc00::/7"),  # unique local, AWS's IPv6 metadata fd00:ec2::254 among them
        ip_network("fec0::/10"),  # deprecated site-local
    ),
    # Carrier-grade NAT: the provider's own network; Alibaba's metadata is 100.100.100.200.
    "shared address space": (ip_network("100.64.0.0/10"),),
    # AWS, GCP and Azure metadata is 169.254.169.254.
    "link-local": (ip_network("169.254.0.0/16"), ip_network("fe80::/10")),
    # IETF protocol assignments; Oracle Cloud's metadata is 192.0.0.192.
    "special purpose": (
        ip_network("192.0.0.0/24"),
        ip_network("198.18.0.0/15"),  # benchmarking
        ip_network("100::/64"),  # discard-only
        ip_network("64:ff9b:1::/48"),  # local-use NAT64: translates into a private network
        ip_network("2001::/32"),  # Teredo: tunnels to an IPv4 address we cannot vet
    ),
    "documentation": (
        ip_network("192.0.2.0/24"),
        ip_network("198.51.100.0/24"),
        ip_network("203.0.113.0/24"),
        ip_network("2001:db8::/32"),
    ),
    "multicast": (ip_network("224.0.0.0/4"), ip_network("ff00::/8")),
    "reserved or broadcast": (ip_network("240.0.0.0/4"),),
    # Any IPv4 in IPv6 clothing that is not one of the forms unwrapped below.
    "IPv4-compatible or IPv4-mapped": (ip_network("::/96"), ip_network("::ffff:0:0/96")),
}

# The well-known NAT64 prefix: the last 32 bits are the IPv4 address a gateway connects to.
_NAT64 = ip_network("64:ff9b::/96")


def parse_literal(host: str) -> IPAddress | None:
    """The address a URL's host names literally (brackets already stripped), or None."""
    try:
        return ip_address(host)
    except ValueError:
        return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` may not be fetched from, or None when it is a public unicast address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        why = refusal(embedded)
        if why is not None:
            return f"{why} (inside an IPv6 address)"
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            # A mapped address connects to its IPv4 part on a dual-stack socket; public DNS
            # never answers with one, so there is no reason to accept it.
            return "IPv4-mapped"
        return None
    for kind, networks in REFUSED_NETWORKS.items():
        if any(address in network for network in networks):
            return kind
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "not globally reachable"
    return None


def is_public(address: IPAddress) -> bool:
    return refusal(address) is None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None
