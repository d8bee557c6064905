"""Checks of the WireGuard role's addresses, with Python's ipaddress (no netaddr needed)."""

from __future__ import annotations

import ipaddress
import re

# A WireGuard key: 32 bytes in base64, 44 characters ending in "=".
_KEY = re.compile(r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$")
# host:port, the host a name, an IPv4 address or an IPv6 address in brackets.
_ENDPOINT = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")


def wireguard_address_problem(address: str, subnet: str) -> str:
    """Why ``address`` (host address with prefix) cannot be a gateway's address in
    ``subnet``; an empty string when it can."""
    try:
        network = ipaddress.ip_network(str(subnet), strict=True)
    except ValueError as err:
        return f"wireguard_subnet {subnet!r} is not a network ({err})"
    if network.prefixlen < 8:
        return f"wireguard_subnet {subnet} is wider than a /8: the VPN's subnet, not the internet"
    try:
        interface = ipaddress.ip_interface(str(address))
    except ValueError:
        return f"wireguard_address {address!r} is not an address with a prefix, e.g. 10.80.0.21/24"
    if "/" not in str(address):
        return f"wireguard_address {address!r} has no prefix, e.g. 10.80.0.21/24"
    if interface.network != network:
        return f"wireguard_address {address} is not in wireguard_subnet {subnet} with its prefix"
    if interface.ip in (network.network_address, network.broadcast_address):
        return f"wireguard_address {address} is the subnet's network or broadcast address"
    return ""


def wireguard_key_problem(key: str, name: str = "wireguard_central_public_key") -> str:
    """Why ``key`` is not a WireGuard public key (a CHANGE-ME placeholder, empty, malformed)."""
    text = str(key or "")
    if not text:
        return f"{name} is empty"
    if "change-me" in text.lower():
        return f"{name} is still the placeholder {text!r}"
    if not _KEY.match(text):
        return f"{name} {text!r} is not a WireGuard key (44 characters of base64, from wg pubkey)"
    return ""


def wireguard_endpoint_problem(endpoint: str) -> str:
    """Why ``endpoint`` is not host:port."""
    text = str(endpoint or "")
    if not text:
        return "wireguard_central_endpoint is empty"
    if "change-me" in text.lower():
        return f"wireguard_central_endpoint is still the placeholder {text!r}"
    match = _ENDPOINT.match(text)
    if not match or not 0 < int(match.group("port")) < 65536:
        return f"wireguard_central_endpoint {text!r} is not host:port, e.g. vpn.example.org:51820"
    return ""


class FilterModule:
    """Ansible filters of the wireguard role."""

    def filters(self) -> dict[str, object]:
        return {
            "wireguard_address_problem": wireguard_address_problem,
            "wireguard_key_problem": wireguard_key_problem,
            "wireguard_endpoint_problem": wireguard_endpoint_problem,
        }
