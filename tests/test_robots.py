"""The robots.txt policy (RFC 9309, as Google applies it) and the failures it maps to statuses."""

from __future__ import annotations

import asyncio

import pytest
from OpenSSL import SSL
from scrapy import Request, Spider
from scrapy import exceptions as sx
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from crawler.middlewares.robots import RobotsPolicyMiddleware, verdict_for_failure, verdict_for_status
from crawler.outcome import Inconclusive, Status, classify_failure

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
