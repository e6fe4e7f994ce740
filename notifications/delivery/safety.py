"""Which addresses the console may send to: public ones only.

A webhook URL is a request the console makes on a user's behalf; without these checks
it would reach the console's own network (metadata services, databases, admin ports).
A URL is checked when it is saved, and the addresses are checked again at every attempt,
where http.py connects only to an address checked here (so DNS rebinding gets nothing).
settings.WEBHOOK_ALLOWED_NETWORKS lists networks allowed anyway (e.g. an internal chat
server, or 127.0.0.0/8 for the tests' receivers).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 forms that carry an IPv4 address a router may deliver to.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class UnsafeURL(ValueError):
    """The URL may not be called; the text says why, for the person who entered it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n.strip(), strict=False)
            for n in settings.WEBHOOK_ALLOWED_NETWORKS if n.strip()]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    for net in _NAT64:
        if ip in net:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _plainly_public(ip: IPAddress) -> bool:
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def is_allowed_address(ip: IPAddress) -> bool:
    """True for a public address, or one inside WEBHOOK_ALLOWED_NETWORKS."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%")[0])
    if any(ip.version == net.version and ip in net for net in allowed_networks()):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            # Both must pass: 2002:7f00:1:: is "global" as IPv6 but reaches 127.0.0.1.
            return _plainly_public(inner) and _plainly_public(ip) or is_allowed_address(inner)
    return _plainly_public(ip)


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("This is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL("Only http:// and https:// URLs can receive webhooks.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("The URL has no host name.")
    return Target(scheme, host, port or (443 if scheme == "https" else 80))


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name stands for (the one resolver; tests patch it)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host name {host} does not resolve.") from None
    found = dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
    if not found:
        raise UnsafeURL(f"The host name {host} does not resolve.")
    return list(found)


def checked_addresses(target: Target) -> list[IPAddress]:
    """Resolve once and check every address; refuse if any is not allowed."""
    addresses = resolve(target.host, target.port)
    for ip in addresses:
        if not is_allowed_address(ip):
            raise UnsafeURL(
                f"{target.host} resolves to {ip}, a private or reserved address: webhooks "
                "go to public addresses only."
            )
    return addresses


def check_url(url: str) -> Target:
    """Refuse a URL the console must not call (at save time)."""
    target = parse_target(url)
    checked_addresses(target)
    return target
