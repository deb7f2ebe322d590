"""A DNS resolver that maps chosen host patterns to fixed addresses, and resolves the rest normally.

Simulated webs (demo, tests, benchmarks) serve thousands of fake ``*.test`` hosts from one loopback
server; the rules (:mod:`crawler.core.hostmap`) let the plain HTTP handler reach them without
touching /etc/hosts. A rule whose address is ``!`` makes its hosts fail to resolve, as a dead domain does.

It is also where the address guard (:mod:`crawler.core.guard`) is enforced for host names: a name that
resolves to a forbidden address (mapped or real) fails to resolve, so the plain HTTP handler never
connects there, whatever middleware, proxy setting or redirect led to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from crawler.core.guard import SETTING as ALLOWED_NETWORKS, AddressGuard
from crawler.core.hostmap import NXDOMAIN, lookup, parse_rules
from crawler.shell.config import BacklinksSettings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler


class ForbiddenAddressError(DNSLookupError):
    """A host name resolved to an address the guard refuses; to Twisted, a name that does not resolve."""

    def __init__(self, name: str, address: str, kind: str):
        super().__init__(f"{name} resolves to {kind} address {address}, refused (see {ALLOWED_NETWORKS})")
        self.address = address
        self.kind = kind


class MappedResolver(CachingThreadedResolver):
    def __init__(
        self,
        reactor: Any,
        cache_size: int,
        timeout: float,
        rules: Sequence[tuple[str, str]],
        guard: AddressGuard | None = None,
    ):
        super().__init__(reactor, cache_size, timeout)
        self.rules = tuple(rules)
        self.guard = guard or AddressGuard()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        # Built from the process's settings (Scrapy passes its CrawlerProcess as the crawler).
        ours = BacklinksSettings.from_settings(settings)
        rules = parse_rules(ours.BACKLINKS_RESOLVE)
        guard = AddressGuard.from_spec(ours.BACKLINKS_ALLOWED_NETWORKS)
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), rules, guard)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        address = lookup(self.rules, name)
        if address == NXDOMAIN:
            return defer.fail(DNSLookupError(f"{name} does not resolve (BACKLINKS_RESOLVE)"))
        found = defer.succeed(address) if address is not None else super().getHostByName(name, timeout)
        return found.addCallback(self._checked, name)

    def _checked(self, address: str, name: str) -> str:
        refusal = self.guard.refusal(address)
        if refusal is not None:
            # A DNSLookupError, so Twisted treats the host as unresolvable and logs nothing more.
            raise ForbiddenAddressError(name, address, refusal)
        return address

