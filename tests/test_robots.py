"""The robots.txt policy (RFC 9309, as Google applies it) and the failures it maps to statuses."""

from __future__ import annotations

import asyncio

import pytest
from OpenSSL import SSL
from protego import Protego
from scrapy import Request, Spider
from scrapy import exceptions as sx
from scrapy.http import Response, TextResponse
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from crawler.shell.config import problems
from crawler.shell.middlewares.robots import RobotsPolicyMiddleware, verdict_for_failure, verdict_for_status
from crawler.core.outcome import Status
from crawler.shell.failures import Inconclusive, classify_failure
from crawler.core.robotstxt import ProductTokenRobots, named_token

import settings as project

# The project's robots.txt settings, as a crawl gets them.
SETTINGS = {name: getattr(project, name, None) for name in ("USER_AGENT", "ROBOTSTXT_PARSER", "ROBOTSTXT_USER_AGENT")}


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (200, None),
        (404, None),  # no robots.txt: everything allowed
        (410, None),
        (401, None),  # RFC 9309: any 4xx but 429 means "unavailable": allowed
        (403, None),
        (301, None),  # a redirect that was not followed: unavailable
        (429, (Status.BLOCKED_ROBOTS, "robots.txt 429")),
        (500, (Status.BLOCKED_ROBOTS, "robots.txt 500")),
        (503, (Status.BLOCKED_ROBOTS, "robots.txt 503")),
        (599, (Status.BLOCKED_ROBOTS, "robots.txt 599")),
    ],
)
def test_status_verdicts(http_status: int, expected: tuple[Status, str] | None) -> None:
    verdict = verdict_for_status(http_status)
    assert (None if verdict is None else (verdict.status, verdict.reason)) == expected


def _tls_failure() -> BaseException:
    never = ResponseNeverReceived([Failure(SSL.Error([("SSL routines", "", "wrong version number")]))])
    try:
        raise sx.DownloadFailedError(str(never)) from never
    except sx.DownloadFailedError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (sx.DownloadTimeoutError("took longer than 2 seconds"), (Status.BLOCKED_ROBOTS, "robots.txt timeout")),
        (tx.TimeoutError("User timeout caused connection failure."), (Status.BLOCKED_ROBOTS, "robots.txt timeout")),
        (sx.IgnoreRequest("max redirections reached"), (Status.BLOCKED_ROBOTS, "robots.txt too_many_redirects")),
        (sx.DownloadCancelledError("larger than download max size"), (Status.BLOCKED_ROBOTS, "robots.txt download_maxsize")),
        # Network failures are what the page itself would get: the host is unreachable, not blocking.
        (sx.CannotResolveHostError("dead.test"), (Status.NETWORK_ERROR, "dns")),
        (sx.DownloadConnectionRefusedError(), (Status.NETWORK_ERROR, "connection_refused")),
        (_tls_failure(), (Status.NETWORK_ERROR, "tls")),
        (Inconclusive(Status.NETWORK_ERROR, "forbidden_address", "loopback"), (Status.NETWORK_ERROR, "forbidden_address")),
    ],
)
def test_failure_verdicts(exc: BaseException, expected: tuple[Status, str]) -> None:
    verdict = verdict_for_failure(exc)
    assert (verdict.status, verdict.reason) == expected
    raised = verdict.exception()
    assert isinstance(raised, sx.IgnoreRequest)  # the errback gets it; Scrapy logs no error
    assert classify_failure(raised) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_tls_failure(), (Status.NETWORK_ERROR, "tls")),
        (sx.IgnoreRequest("Ignored response <200 http://a.test/> because its body (65255 B compressed, "
                          "2162688 B decompressed so far) exceeded DOWNLOAD_MAXSIZE (2097152 B) during decompression."),
         (Status.TOO_LARGE, "decompressed_maxsize")),
        (Inconclusive(Status.BLOCKED_ROBOTS, "robots.txt", "disallowed"), (Status.BLOCKED_ROBOTS, "robots.txt")),
        (sx.DownloadFailedError("[<Failure twisted.internet.error.ConnectionDone>]"), (Status.NETWORK_ERROR, "download_failed")),
    ],
)
def test_classify_new_failures(exc: BaseException, expected: tuple[Status, str]) -> None:
    assert classify_failure(exc) == expected


# --- Many requests of one host while its robots.txt downloads ---------------------------------------


class SlowEngine:
    """``download_async`` for robots.txt only, answering once the test lets it: every request of the
    host arrives while the first one's robots.txt is still on its way."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status
        self.requested: list[str] = []
        self.release = asyncio.Event()

    async def download_async(self, request: Request) -> Response:
        self.requested.append(request.url)
        await self.release.wait()
        return TextResponse(request.url, status=self.status, body=self.body, encoding="utf-8")


def _middleware(engine: SlowEngine, settings: dict[str, object] | None = None) -> RobotsPolicyMiddleware:
    crawler = get_crawler(Spider, {"ROBOTSTXT_OBEY": True, **SETTINGS, **(settings or {})})
    crawler.engine = engine  # type: ignore[assignment]
    return RobotsPolicyMiddleware.from_crawler(crawler)


async def _outcomes(middleware: RobotsPolicyMiddleware, engine: SlowEngine, urls: list[str]) -> list[str]:
    async def one(url: str) -> str:
        try:
            await middleware.process_request(Request(url))
        except Inconclusive as exc:
            return f"{exc.status.value} {exc.reason}"
        return "allowed"

    waiting = [asyncio.ensure_future(one(url)) for url in urls]
    for _ in range(10):  # let every request reach the policy before robots.txt answers
        await asyncio.sleep(0)
    engine.release.set()
    return list(await asyncio.gather(*waiting))


@deferred_f_from_coro_f
async def test_every_request_waiting_for_robots_txt_gets_its_policy() -> None:
    engine = SlowEngine(b"User-agent: *\nDisallow: /private/\n")
    middleware = _middleware(engine)
    urls = [f"http://many.test/private/{n}" for n in range(10)] + ["http://many.test/public/1"]
    outcomes = await _outcomes(middleware, engine, urls)
    assert outcomes == ["blocked_robots robots.txt"] * 10 + ["allowed"]
    assert engine.requested == ["http://many.test/robots.txt"]  # fetched once for all of them
    # ...and later requests read the stored policy.
    assert await _outcomes(middleware, engine, ["http://many.test/private/x"]) == ["blocked_robots robots.txt"]


@deferred_f_from_coro_f
async def test_every_request_waiting_gets_the_verdict_of_a_failed_robots_txt() -> None:
    engine = SlowEngine(b"busy", status=503)
    middleware = _middleware(engine)
    outcomes = await _outcomes(middleware, engine, [f"http://busy.test/{n}" for n in range(5)])
    assert outcomes == ["blocked_robots robots.txt 503"] * 5


# --- Which group applies: by product token (RFC 9309 2.2.1) ---------------------------------------

# RFC 9309, section 5.1 (the example robots.txt file).
RFC_9309_EXAMPLE = """\
User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
"""
# Google's "user agent" example (developers.google.com, "How Google interprets the robots.txt
# specification"): each crawler follows the most specific group, whatever the order.
GOOGLE_GROUPS = """\
user-agent: googlebot-news
disallow: /group-1

user-agent: *
disallow: /group-2

user-agent: googlebot
disallow: /group-3
"""
# Google: groups naming the same crawler are combined.
GOOGLE_COMBINED = """\
user-agent: googlebot-news
disallow: /fish

user-agent: *
disallow: /carrots

user-agent: googlebot-news
disallow: /shrimp
"""
# Google: several user-agent lines share the rules that follow them; a group may be empty.
GOOGLE_SHARED = "user-agent: e\nuser-agent: f\ndisallow: /g\n\nuser-agent: h\n"
# Google's robots_test.cc: a Sitemap line does not end a group (BarBot shares the * rules).
GOOGLE_SITEMAP = "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n"

OURS = project.ROBOTSTXT_USER_AGENT


@pytest.mark.parametrize(
    ("robots", "token", "path", "allowed"),
    [
        (RFC_9309_EXAMPLE, "foobot", "/example/page.html", True),
        (RFC_9309_EXAMPLE, "foobot", "/example/allowed.gif", True),
        (RFC_9309_EXAMPLE, "foobot", "/example/other.html", False),
        (RFC_9309_EXAMPLE, "foobot", "/", False),
        (RFC_9309_EXAMPLE, "FooBot", "/", False),  # case-insensitive
        (RFC_9309_EXAMPLE, "barbot", "/example/page.html", False),
        (RFC_9309_EXAMPLE, "bazbot", "/example/page.html", False),
        (RFC_9309_EXAMPLE, "bazbot", "/example/other.gif", True),  # the * rules are not theirs
        (RFC_9309_EXAMPLE, "quxbot", "/example/page.html", True),  # an empty group allows all
        (RFC_9309_EXAMPLE, "quxbot", "/a.gif", True),
        (RFC_9309_EXAMPLE, OURS, "/a.gif", False),  # no group of ours: the * group
        (RFC_9309_EXAMPLE, OURS, "/example/x", False),
        (RFC_9309_EXAMPLE, OURS, "/publications/x", True),
        (RFC_9309_EXAMPLE, "foo", "/", True),  # a prefix of a group's name is another crawler...
        (RFC_9309_EXAMPLE, "foobotx", "/example/other.gif", False),  # ...and so is a longer token
        (GOOGLE_GROUPS, "googlebot-news", "/group-1", False),
        (GOOGLE_GROUPS, "googlebot-news", "/group-3", True),
        (GOOGLE_GROUPS, "googlebot", "/group-3", False),
        (GOOGLE_GROUPS, "googlebot", "/group-1", True),
        (GOOGLE_GROUPS, "storebot-google", "/group-2", False),
        (GOOGLE_GROUPS, "storebot-google", "/group-3", True),
        (GOOGLE_GROUPS, "otherbot", "/group-2", False),
        (GOOGLE_COMBINED, "googlebot-news", "/fish", False),
        (GOOGLE_COMBINED, "googlebot-news", "/shrimp", False),
        (GOOGLE_COMBINED, "googlebot-news", "/carrots", True),
        (GOOGLE_SHARED, "e", "/g", False),
        (GOOGLE_SHARED, "f", "/g", False),
        (GOOGLE_SHARED, "h", "/g", True),
        (GOOGLE_SITEMAP, "BarBot", "/", False),
        (GOOGLE_SITEMAP, "FooBot", "/", False),
        # Our own token against the groups that used to apply through our User-Agent header.
        (f"User-agent: {OURS}\nDisallow: /\n\nUser-agent: backlinks-verify\nAllow: /\n", OURS, "/page", False),
        ("User-agent: Mozilla\nDisallow: /\n\nUser-agent: compatible\nDisallow: /\n", OURS, "/page", True),
        ("User-agent: github\nDisallow: /\n", OURS, "/page", True),
        ("User-agent: backlinks\nDisallow: /\n", OURS, "/page", True),
        ("User-agent: BacklinksVerifyBot\nDisallow: /\n", OURS, "/page", True),
        ("User-agent: BACKLINKSVERIFY\nDisallow: /private\n", OURS, "/private/1", False),
        ("User-agent: BacklinksVerify/2.0\nDisallow: /\n", OURS, "/page", False),  # the token, then a version
        (f"User-agent: *\nDisallow: /\n\nUser-agent: {OURS}\nAllow: /\n", OURS, "/page", True),  # ours beats *
        (f"User-agent: *\nAllow: /\n\nUser-agent: {OURS}\nDisallow: /private/\n", OURS, "/private/x", False),
        ("Disallow: /\n", OURS, "/page", True),  # rules without a group apply to no one
        ("", OURS, "/page", True),
    ],
)
def test_the_group_of_our_product_token_applies(robots: str, token: str, path: str, allowed: bool) -> None:
    assert ProductTokenRobots.parse(robots).can_fetch(f"http://site.test{path}", token) is allowed


@pytest.mark.parametrize(
    ("line", "token"),
    [("BacklinksVerify", "backlinksverify"), ("Googlebot/2.1", "googlebot"), ("googlebot-news", "googlebot-news"),
     ("*", "*"), (" * ", "*"), ("my_bot v2", "my_bot"), ("/2.0", None), ("", None)],
)
def test_named_token(line: str, token: str | None) -> None:
    assert named_token(line) == token


def test_protego_still_has_what_the_override_reads() -> None:
    # ProductTokenRobots overrides Protego's private group selection: notice if it is renamed.
    assert callable(getattr(Protego, "_get_matching_rule_set", None))
    assert isinstance(Protego.parse("User-agent: x\nDisallow: /\n")._user_agents, dict)


@pytest.mark.parametrize("value", ["", "Mozilla/5.0 (compatible; BacklinksVerify/0.1)", "Backlinks Verify"])
def test_the_robots_user_agent_must_be_a_product_token(value: str) -> None:
    # Refused at start-up with the other settings, as one line (crawler.shell.config).
    assert problems(Settings({"ROBOTSTXT_USER_AGENT": value})) == [
        f"ROBOTSTXT_USER_AGENT must be our robots.txt product token: letters, '-' and '_' only, "
        f"e.g. BacklinksVerify (got {value!r})"
    ]


def test_the_project_reads_robots_txt_by_its_product_token() -> None:
    crawler = get_crawler(Spider, {"ROBOTSTXT_OBEY": True, **SETTINGS})
    parser = build_from_crawler(load_object(SETTINGS["ROBOTSTXT_PARSER"]), crawler, b"User-agent: Mozilla\nDisallow: /\n")
    assert parser.allowed("http://site.test/page", OURS)
    assert OURS in project.USER_AGENT  # the token is the one our User-Agent header announces
