"""Which addresses and ports the console may connect to: public ones only.

A webhook URL is a request the console makes on a user's behalf; without these checks
it would reach the console's own network (metadata services, databases, admin ports),
or let anyone with an account scan the ports of a public host. A URL is checked when it
is saved, and the port and the addresses are checked again at every attempt, where
client.py connects only to an address checked here (so DNS rebinding gets nothing).

One setting governs every outbound connection: settings.OUTBOUND_ALLOWED_NETWORKS lists
private networks allowed anyway (e.g. an internal chat server, or 127.0.0.0/8 for the
tests' receivers; the environment's WEBHOOK_ALLOWED_NETWORKS, its older name, is joined to
it in the settings). Ports are 80, 443 and 1024-65535, minus the well-known ports of
internal services in DENIED_PORTS: whichever networks are allowed, a webhook never
speaks to a database.
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


# Services that listen inside a deployment and speak a protocol a POST could abuse (or
# whose answer tells a scanner they are there). Refused on any host.
DENIED_PORTS: dict[int, str] = {
    1433: "Microsoft SQL Server", 1521: "Oracle", 2049: "NFS", 2181: "ZooKeeper",
    2375: "Docker", 2376: "Docker", 2379: "etcd", 2380: "etcd", 3306: "MySQL",
    3389: "Remote Desktop", 4001: "etcd", 4369: "Erlang epmd", 5432: "PostgreSQL",
    5601: "Kibana", 5672: "RabbitMQ", 5984: "CouchDB", 6379: "Redis", 6443: "Kubernetes",
    7000: "Cassandra", 7001: "Cassandra", 8086: "InfluxDB", 8200: "Vault",
    8300: "Consul", 8301: "Consul", 8302: "Consul", 8500: "Consul", 8600: "Consul",
    9042: "Cassandra", 9092: "Kafka", 9200: "Elasticsearch", 9300: "Elasticsearch",
    10250: "Kubernetes kubelet", 10255: "Kubernetes kubelet", 11211: "memcached",
    15672: "RabbitMQ", 26379: "Redis Sentinel", 27017: "MongoDB", 27018: "MongoDB",
    27019: "MongoDB",
}
WEB_PORTS = (80, 443)
FIRST_HIGH_PORT = 1024


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n.strip(), strict=False)
            for n in settings.OUTBOUND_ALLOWED_NETWORKS if n.strip()]


def check_port(port: int) -> None:
    """Refuse a port the console must not connect to; the message says which may be used."""
    if port in DENIED_PORTS:
        raise UnsafeURL(f"Port {port} is {DENIED_PORTS[port]}'s, an internal service: "
                        "webhooks may not use it.")
    if port not in WEB_PORTS and not FIRST_HIGH_PORT <= port <= 65535:
        raise UnsafeURL(f"Port {port} is not allowed: webhooks use port 80, 443 or "
                        f"{FIRST_HIGH_PORT}-65535.")


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
    """True for a public address, or one inside OUTBOUND_ALLOWED_NETWORKS."""
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
    """The URL's scheme, host and port, or UnsafeURL; every connection starts here, at
    save time (check_url) and at each attempt (client.Client), so the port rule holds at
    both."""
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
    if port is None:
        port = 443 if scheme == "https" else 80
    check_port(port)
    return Target(scheme, host, port)


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
                f"{target.host} resolves to {ip}, a private or reserved address: the "
                "console connects to public addresses only, unless the deployment's "
                "OUTBOUND_ALLOWED_NETWORKS setting allows that network."
            )
    return addresses


def check_url(url: str) -> Target:
    """Refuse a URL the console must not call (at save time)."""
    target = parse_target(url)
    checked_addresses(target)
    return target
