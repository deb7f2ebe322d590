"""A DNS resolver that maps chosen host patterns to fixed addresses, and resolves the rest normally.

Simulated webs (demo, tests, benchmarks) serve thousands of fake ``*.test`` hosts from one loopback
server; this lets the plain HTTP handler reach them without touching /etc/hosts.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Self

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler


def parse_rules(spec: str) -> tuple[tuple[str, str], ...]:
    """``"*.test=127.0.0.1, demo.example=127.0.0.2"`` -> ((pattern, address), ...)."""
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        pattern, sep, address = part.partition("=")
        if not sep or not pattern.strip() or not address.strip():
            raise ValueError(f"BACKLINKS_RESOLVE rule {part!r} is not PATTERN=ADDRESS")
        rules.append((pattern.strip().lower(), address.strip()))
    return tuple(rules)


def lookup(rules: Sequence[tuple[str, str]], host: str) -> str | None:
    host = host.lower().rstrip(".")
    return next((address for pattern, address in rules if fnmatchcase(host, pattern)), None)


class MappedResolver(CachingThreadedResolver):
    def __init__(self, reactor: Any, cache_size: int, timeout: float, rules: Sequence[tuple[str, str]]):
        super().__init__(reactor, cache_size, timeout)
        self.rules = tuple(rules)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        rules = parse_rules(settings.get("BACKLINKS_RESOLVE", ""))
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), rules)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        address = lookup(self.rules, name)
        if address is not None:
            return defer.succeed(address)
        return super().getHostByName(name, timeout)

