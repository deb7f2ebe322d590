"""The robots.txt policy (RFC 9309, as Google applies it) and the failures it maps to statuses."""

from __future__ import annotations

import pytest
from OpenSSL import SSL
from scrapy import exceptions as sx
from twisted.internet import error as tx
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from crawler.middlewares.robots import verdict_for_failure, verdict_for_status
from crawler.outcome import Inconclusive, Status, classify_failure


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
