"""robots.txt as RFC 9309 and Google read it, replacing Scrapy's RobotsTxtMiddleware.

Scrapy allows everything when robots.txt cannot be fetched. That is wrong for a polite monitor:
a site whose robots.txt answers 5xx or never answers may be shedding load, and Google then
crawls nothing. So, per host:

=============================================  ============================================
robots.txt answer                              pages of the host
=============================================  ============================================
2xx                                            the rules of our group decide (crawler.core.robotstxt)
4xx other than 429 (404, 410, 401, 403...)     all allowed: there are no rules
5xx or 429                                     none fetched: ``blocked_robots`` "robots.txt 503"
timeout                                        none fetched: ``blocked_robots`` "robots.txt timeout"
DNS, refused connection, TLS, forbidden addr.  none fetched: the same ``network_error`` the page
                                               would get ("dns", "tls", "forbidden_address")
too large, too many redirects, other errors    none fetched: ``blocked_robots`` "robots.txt ..."
=============================================  ============================================

The verdict is an inconclusive status, so a blocked page never counts towards ``lost``.
robots.txt is fetched once per host, and every page of the host waits for that one answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import NotConfigured
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import ProtegoRobotParser, RobotParser, decode_robotstxt
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object

from crawler.core.outcome import Status
from crawler.shell.failures import Inconclusive, classify_failure
from crawler.core.robotstxt import ProductTokenRobots

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

ROBOTS = "robots.txt"


class Verdict:
    """A host's robots.txt could not be read: no page of the host is fetched."""

    __slots__ = ("detail", "reason", "status")

    def __init__(self, status: Status, reason: str, detail: str):
        self.status, self.reason, self.detail = status, reason, detail

    def exception(self) -> Inconclusive:
        return Inconclusive(self.status, self.reason, self.detail)


# What applies to a host's pages: its robots.txt rules, one verdict for all of them, or None (no
# rules, everything allowed).
RobotsRules = RobotParser | Verdict | None
_UNKNOWN = object()  # a host whose robots.txt was never requested


def verdict_for_status(http_status: int) -> Verdict | None:
    """What a robots.txt HTTP status means for the host's pages when the body is not used."""
    if http_status >= 500 or http_status == 429:
        return Verdict(Status.BLOCKED_ROBOTS, f"{ROBOTS} {http_status}", "robots.txt unreachable: nothing is fetched")
    return None


def verdict_for_failure(exc: BaseException) -> Verdict:
    status, reason = classify_failure(exc)
    if status is Status.NETWORK_ERROR:
        # The page would fail the same way: say so, rather than blame robots.txt.
        return Verdict(status, reason, f"{ROBOTS} could not be fetched")
    return Verdict(Status.BLOCKED_ROBOTS, f"{ROBOTS} {reason}", "robots.txt unreachable: nothing is fetched")


class ProductTokenRobotParser(ProtegoRobotParser):
    """Scrapy's Protego parser, with groups chosen by product token (:mod:`crawler.core.robotstxt`)."""

    def __init__(self, robotstxt_body: bytes, spider: Spider | None):
        self.spider = spider
        self.rp = ProductTokenRobots.parse(decode_robotstxt(robotstxt_body, spider))


class RobotsPolicyMiddleware:
    DOWNLOAD_PRIORITY = 1000  # robots.txt before the pages waiting for it

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        # Groups are matched by product token (RFC 9309), never by the whole User-Agent header.
        # A value that is not a product token was refused at start-up (crawler.shell.config).
        self.user_agent: str = settings.get("ROBOTSTXT_USER_AGENT") or ""
        self.parser_class = load_object(settings.get("ROBOTSTXT_PARSER"))
        build_from_crawler(self.parser_class, crawler, b"")  # fail now if the parser cannot load
        self.policies: dict[str, RobotsRules | asyncio.Future[RobotsRules]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") or urlparse_cached(request).scheme not in ("http", "https"):
            return
        policy = await self.policy(request)
        if isinstance(policy, Verdict):
            self.stats.inc_value(f"backlinks/robots/{policy.status.value}")
            raise policy.exception()
        if policy is not None and not policy.allowed(request.url, self.user_agent):
            self.stats.inc_value("robotstxt/forbidden")
            raise Inconclusive(Status.BLOCKED_ROBOTS, ROBOTS, "disallowed by robots.txt")

    async def policy(self, request: Request) -> RobotsRules:
        parts = urlparse_cached(request)
        netloc = parts.netloc
        known = self.policies.get(netloc, _UNKNOWN)
        if known is _UNKNOWN:
            # One download per host, however many of its pages arrive meanwhile: each of them
            # awaits the same task, and an asyncio future gives its result to every waiter (a
            # Deferred awaited through asFuture() hands None to all but the first).
            known = self.policies[netloc] = asyncio.ensure_future(self.fetch(parts.scheme, netloc))
        if isinstance(known, asyncio.Future):
            # shield: a waiter cancelled (its request dropped) must not cancel the others' download.
            return await asyncio.shield(known)
        return known

    async def fetch(self, scheme: str, netloc: str) -> RobotsRules:
        robots = Request(
            f"{scheme}://{netloc}/robots.txt",
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True},
            callback=NO_CALLBACK,
        )
        self.stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots)
        except Exception as exc:
            verdict = verdict_for_failure(exc)
            logger.info("%s failed (%s): %s", robots.url, type(exc).__name__, verdict.detail)
            policy: RobotsRules = verdict
        else:
            policy = self.read(response)
        self.policies[netloc] = policy
        return policy

    def read(self, response: Response) -> RobotsRules:
        self.stats.inc_value("robotstxt/response_count")
        self.stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        verdict = verdict_for_status(response.status)
        if verdict is not None:
            logger.info("%s answered %s: %s", response.url, response.status, verdict.detail)
            return verdict
        if not 200 <= response.status < 300:
            return None  # 4xx: no robots.txt; an unfollowed 3xx: treated as unavailable, like a 4xx
        return build_from_crawler(self.parser_class, self.crawler, response.body)
