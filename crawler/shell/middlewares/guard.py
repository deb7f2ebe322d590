"""Enforcing the address guard (:mod:`crawler.core.guard`) on every request the plain handler makes.

Each request, including every redirect (RedirectMiddleware sends a new request through the
middlewares) and every robots.txt request, is checked before it is downloaded: its scheme, an
IP-literal host, and the address its host name resolves to. The resolver refuses the same
addresses again at connection time (:class:`crawler.shell.resolver.MappedResolver`); the check here runs
first so the refusal carries a precise reason instead of looking like a DNS failure.

:func:`request_refusal` is the same check for the browser: call it from a Playwright route handler
and abort the route when it returns a refusal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.core.guard import SETTING, AddressGuard, RefusalLog, parse_host
from crawler.core.outcome import Status
from crawler.shell.config import BacklinksSettings
from crawler.shell.failures import Inconclusive
from crawler.shell.resolver import ForbiddenAddressError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

FORBIDDEN_ADDRESS = "forbidden_address"
FORBIDDEN_SCHEME = "forbidden_scheme"


async def _resolve(host: str) -> str | ForbiddenAddressError | None:
    """The address the plain handler would connect to, asked of the installed (caching) resolver;
    None when the name does not resolve: the download then fails with the resolver's own error."""
    from twisted.internet import reactor

    try:
        return await maybe_deferred_to_future(reactor.resolver.getHostByName(host))  # type: ignore[attr-defined]
    except ForbiddenAddressError as exc:
        return exc
    except Exception:  # NXDOMAIN, DNS timeout: reported by the download itself
        return None


async def request_refusal(guard: AddressGuard, url: str) -> Inconclusive | None:
    """Why ``url`` may not be fetched, as the exception to raise (or to record), else None."""
    kind = guard.url_refusal(url)
    if kind == "invalid_url":
        return None  # not an address question: the download reports it
    if kind == "scheme":
        return Inconclusive(Status.NETWORK_ERROR, FORBIDDEN_SCHEME, url.split(":", 1)[0][:20])
    if kind is not None:
        return Inconclusive(Status.NETWORK_ERROR, FORBIDDEN_ADDRESS, f"{kind} address in {url[:200]}")
    host = urlsplit(url).hostname or ""
    if parse_host(host) is not None:
        return None  # an allowed IP literal: nothing to resolve
    address = await _resolve(host)
    if isinstance(address, ForbiddenAddressError):
        return Inconclusive(Status.NETWORK_ERROR, FORBIDDEN_ADDRESS, str(address))
    if address is None:
        return None
    kind = guard.refusal(address)
    if kind is None:
        return None
    return Inconclusive(Status.NETWORK_ERROR, FORBIDDEN_ADDRESS, f"{host} resolves to {kind} address {address}")


class AddressGuardMiddleware:
    def __init__(self, crawler: Crawler):
        self.guard = AddressGuard.from_spec(BacklinksSettings.from_crawler(crawler).BACKLINKS_ALLOWED_NETWORKS)
        self.stats = crawler.stats
        self.refusals = RefusalLog()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        refusal = await request_refusal(self.guard, request.url)
        if refusal is None:
            return
        self.stats.inc_value(f"backlinks/guard/{refusal.reason}")
        level = self.refusals.level(urlparse_cached(request).netloc)
        logger.log(level, "Refused %s: %s; allow it with %s if it is yours", request, refusal, SETTING)
        raise refusal
