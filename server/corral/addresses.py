"""What counts as this machine: one answer for the edge (who may call `/internal/v1`) and for
the core (whether a server bound to `host` is reachable from elsewhere)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (and IPv4 loopback mapped into IPv6), or the name `localhost`; any other
    name may resolve to anything, so it is not."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
