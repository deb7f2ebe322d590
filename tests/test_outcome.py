"""Failure and HTTP classification: an error is always inconclusive, never a miss."""

from __future__ import annotations

import pytest
from scrapy import exceptions as sx
from twisted.internet import error as tx

from crawler.core.outcome import INCONCLUSIVE, Status, classify_http
from crawler.shell.failures import classify_failure


@pytest.mark.parametrize(
    ("http_status", "challenge", "expected"),
    [
        (200, False, None),
        (204, False, None),
        (404, False, None),  # judged: the page is gone
        (410, False, None),
        (403, False, (Status.BLOCKED_BOT, "403")),
        (401, False, (Status.BLOCKED_BOT, "401")),
        (429, False, (Status.BLOCKED_BOT, "429")),
        (451, False, (Status.BLOCKED_BOT, "451")),
        (503, True, (Status.BLOCKED_BOT, "503")),  # a challenge page is a block, not an outage
        (200, True, (Status.BLOCKED_BOT, "200")),  # a challenge served with 200
        (500, False, (Status.SERVER_ERROR, "500")),
        (503, False, (Status.SERVER_ERROR, "503")),
        (520, False, (Status.SERVER_ERROR, "520")),
        (301, False, (Status.SERVER_ERROR, "301")),  # a redirect without Location reached us
        (400, False, (Status.SERVER_ERROR, "400")),
    ],
)
def test_classify_http(http_status: int, challenge: bool, expected: tuple[Status, str] | None) -> None:
    assert classify_http(http_status, challenge=challenge) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (sx.IgnoreRequest("Forbidden by robots.txt"), (Status.BLOCKED_ROBOTS, "robots.txt")),
        (sx.IgnoreRequest("max redirections reached"), (Status.SERVER_ERROR, "too_many_redirects")),
        (sx.DownloadTimeoutError("took longer than 30 seconds"), (Status.TIMEOUT, "timeout")),
        (tx.TimeoutError(), (Status.TIMEOUT, "timeout")),
        (sx.CannotResolveHostError("nope.test"), (Status.NETWORK_ERROR, "dns")),
        (tx.DNSLookupError(), (Status.NETWORK_ERROR, "dns")),
        (sx.DownloadConnectionRefusedError(), (Status.NETWORK_ERROR, "connection_refused")),
        (sx.DownloadCancelledError("Received 3000000 bytes which is larger than download max size (2097152)"),
         (Status.TOO_LARGE, "download_maxsize")),
        (sx.DownloadCancelledError(""), (Status.TOO_LARGE, "download_maxsize")),
        (sx.ResponseDataLossError(), (Status.NETWORK_ERROR, "data_loss")),
        (tx.ConnectionLost(), (Status.NETWORK_ERROR, "connection_lost")),
        (sx.DownloadFailedError("TLS handshake failed"), (Status.NETWORK_ERROR, "download_failed")),
        (ValueError("something odd"), (Status.NETWORK_ERROR, "value_error")),
        (sx.IgnoreRequest("offsite"), (Status.NETWORK_ERROR, "ignored: offsite")),
    ],
)
def test_classify_failure(exc: BaseException, expected: tuple[Status, str]) -> None:
    status, reason = classify_failure(exc)
    assert (status, reason) == expected
    assert status in INCONCLUSIVE and status.inconclusive


def test_only_conclusive_statuses_are_live_missing_lost() -> None:
    assert {s for s in Status if not s.inconclusive} == {Status.LIVE, Status.MISSING_UNCONFIRMED, Status.LOST}
