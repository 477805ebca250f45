"""Which addresses an upload by URL may reach: one row per kind of address (pure rules)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from mediavault.media.addresses import is_public, refusal

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "fd12:3456::1": "private",
    "fd00:ec2::254": "private",  # AWS metadata over IPv6
    "fec0::1": "private",
    "169.254.169.254": "link-local",  # AWS, GCP, Azure metadata
    "169.254.0.1": "link-local",
    "fe80::1": "link-local",
    "100.64.0.1": "shared address space",
    "100.100.100.200": "shared address space",  # Alibaba metadata
    "192.0.0.192": "special purpose",  # Oracle metadata, "global" to Python 3.11
    "0.0.0.0": "unspecified or 'this network'",
    "0.1.2.3": "unspecified or 'this network'",
    "::": "unspecified or 'this network'",
    "224.0.0.1": "multicast",  # "global" to Python 3.11
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved or broadcast",
    "255.255.255.255": "reserved or broadcast",
    "198.18.0.1": "special purpose",
    "2001:db8::1": "documentation",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "special purpose",  # Teredo
    "::ffff:127.0.0.1": "loopback (inside an IPv6 address)",
    "::ffff:10.0.0.1": "private (inside an IPv6 address)",
    "::ffff:169.254.169.254": "link-local (inside an IPv6 address)",
    "::ffff:8.8.8.8": "IPv4-mapped",  # "global" to Python 3.11, and no DNS answers with it
    "2002:7f00:1::1": "loopback (inside an IPv6 address)",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1": "link-local (inside an IPv6 address)",  # 6to4 of the metadata address
    "64:ff9b::a00:1": "private (inside an IPv6 address)",  # NAT64 of 10.0.0.1
    "64:ff9b:1::1": "special purpose",
    "::127.0.0.1": "IPv4-compatible or IPv4-mapped",
}

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "kind"), REFUSED.items())
def test_each_kind_of_inner_address_is_refused(address: str, kind: str) -> None:
    assert refusal(ip_address(address)) == kind
    assert not is_public(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert refusal(ip_address(address)) is None
