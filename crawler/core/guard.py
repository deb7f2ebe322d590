"""The address guard: which URLs and addresses the crawler may contact. Pure: nothing here connects.

A backlink list is user input, and every page it names can redirect anywhere. Without a guard a
crawler on a cloud VM would fetch ``http://169.254.169.254/`` (instance credentials), the admin
panel on ``http://10.0.0.1/`` or a service on ``localhost`` for whoever controls a referring page.
So only http(s) is fetched, and loopback, private, link-local, metadata and other non-public
addresses are refused, unless ``BACKLINKS_ALLOWED_NETWORKS`` names them (the demo, tests and
benchmarks serve their fake web on 127.0.0.1).

The check runs on the address a request really connects to, after DNS resolution
(:mod:`crawler.shell.resolver`), and on IP-literal hosts written in any spelling a browser or
``inet_aton`` accepts (``http://2130706433/``, ``http://0x7f.1/``, ``http://[::ffff:127.0.0.1]/``).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
SETTING = "BACKLINKS_ALLOWED_NETWORKS"


def _nets(*specs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(s) for s in specs)


# Checked in order, so the specific (metadata) comes before the general (link-local). Anything not
# listed that Python's registry does not call global is refused as "reserved".
_CATEGORIES: tuple[tuple[str, tuple[Network, ...]], ...] = (
    # Cloud instance metadata: AWS/GCP/Azure/OpenStack, Alibaba, AWS over IPv6.
    ("metadata", _nets("169.254.169.254/32", "100.100.100.200/32", "fd00:ec2::254/128")),
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("shared", _nets("100.64.0.0/10")),  # carrier-grade NAT: a provider's internal network
    ("link_local", _nets("169.254.0.0/16", "fe80::/10")),
    ("unique_local", _nets("fc00::/7")),
    ("site_local", _nets("fec0::/10")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("broadcast", _nets("255.255.255.255/32")),
    (
        "documentation",
        _nets("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
    ),
    ("benchmarking", _nets("198.18.0.0/15", "2001:2::/48")),
    ("reserved", _nets("240.0.0.0/4", "192.0.0.0/24", "100::/64")),
)

# IPv6 forms that carry an IPv4 address a packet may end up at: judged by that IPv4 address.
_NAT64 = _nets("64:ff9b::/96", "64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: mapped, compatible, NAT64 or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: Address) -> str | None:
    """The kind of non-public address ``address`` is (``"loopback"``, ``"metadata"``...), or None
    for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "link_local"  # a zone index only makes sense on a local link
        inner = embedded_ipv4(address)
        if inner is not None:
            return classify(inner)
        if address.teredo is not None:
            return "reserved"  # a tunnel to an IPv4 address we cannot vouch for
    for name, networks in _CATEGORIES:
        if any(address in net for net in networks):
            return name
    return None if address.is_global else "reserved"


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 host in any spelling the WHATWG URL parser (and ``inet_aton``) accepts, else None.

    ``127.0.0.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``127.1``, ``127.0.0.1.``.
    A host that is not all numbers is a name (None); numbers out of range are not an address.
    """
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # a trailing dot is allowed
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def parse_host(host: str) -> Address | None:
    """The address an URL host names literally (brackets and zone index allowed), else None."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return parse_ipv4(host)


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1"`` (or a list) -> networks; ValueError naming the setting and the fix."""
    items = spec.split(",") if isinstance(spec, str) else spec
    networks = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"{SETTING}: {item!r} is not a network ({exc}); "
                "give comma-separated CIDRs such as 127.0.0.0/8,::1/128"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class AddressGuard:
    """Which addresses may be contacted: every public one, plus the ``allowed`` networks."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def from_spec(cls, spec: str | Iterable[str] | None) -> AddressGuard:
        return cls(parse_networks(spec or ""))

    def is_allowed(self, address: Address) -> bool:
        candidates: list[Address] = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)):
            candidates.append(inner)
        return any(a in net for a in candidates for net in self.allowed if a.version == net.version)

    def refusal(self, address: Address | str) -> str | None:
        """Why ``address`` may not be contacted (its kind, e.g. ``"private"``), or None."""
        if isinstance(address, str):
            parsed = parse_host(address)
            if parsed is None:
                return "not_an_address"
            address = parsed
        if self.is_allowed(address):
            return None
        return classify(address)

    def url_refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, judged without DNS: its scheme, or an IP-literal host.

        A host name passes here; its addresses are checked when it is resolved.
        """
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return "invalid_url"
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            return "scheme"
        if not host:
            return "invalid_url"
        address = parse_host(host)
        return None if address is None else self.refusal(address)


class RefusalLog:
    """The level to log a refusal at: a warning for the first refusal of each host, debug for the
    rest, and debug for every host beyond the first ``hosts`` (a hostile list can't flood the log)."""

    def __init__(self, hosts: int = 1000) -> None:
        self.hosts = hosts
        self.warned: set[str] = set()

    def level(self, host: str) -> int:
        if host in self.warned or len(self.warned) >= self.hosts:
            return logging.DEBUG
        self.warned.add(host)
        return logging.WARNING
