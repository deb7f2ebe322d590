"""The one vocabulary of check outcomes, used by the spider, storage, CLI and exports.

A *status* says what one check concluded about one backlink; a *reason* says why. Conclusive misses
(the page says the link is gone) count towards ``lost``; inconclusive results (we could not see the
page) never do, so a timeout or a firewall can never raise a false alarm.
"""

from __future__ import annotations

from enum import Enum

from OpenSSL import SSL
from scrapy import exceptions as sx
from twisted.internet import error as tx


class Status(str, Enum):
    LIVE = "live"
    MISSING_UNCONFIRMED = "missing_unconfirmed"
    LOST = "lost"
    # Inconclusive: the page could not be judged.
    BLOCKED_ROBOTS = "blocked_robots"
    BLOCKED_BOT = "blocked_bot"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    NOT_HTML = "not_html"
    TOO_LARGE = "too_large"
    # The observation could not be stored as observed (the database refused a value even alone):
    # recorded in its place, with the database's reason, so the rest of its batch is stored.
    STORE_ERROR = "store_error"

    @property
    def inconclusive(self) -> bool:
        return self in INCONCLUSIVE


INCONCLUSIVE = frozenset(
    {
        Status.BLOCKED_ROBOTS,
        Status.BLOCKED_BOT,
        Status.SERVER_ERROR,
        Status.TIMEOUT,
        Status.NETWORK_ERROR,
        Status.NOT_HTML,
        Status.TOO_LARGE,
        Status.STORE_ERROR,
    }
)


class Miss(str, Enum):
    """Why a conclusive check did not find the link (the ``reason`` of a miss or of ``lost``).

    Listed in order of precedence: a page-level cause explains a missing link better than
    ``link_removed`` does.
    """

    PAGE_NOT_FOUND = "page_not_found"
    PAGE_REDIRECTED = "page_redirected"
    NOINDEX = "noindex"
    NOT_CANONICAL = "not_canonical"
    LINK_REMOVED = "link_removed"


class Inconclusive(sx.IgnoreRequest):
    """Raised by a downloader middleware that settles a request's outcome without fetching it
    (the address guard, the robots.txt policy); the errback stores ``status`` and ``reason``."""

    def __init__(self, status: Status, reason: str, detail: str = ""):
        super().__init__(f"{status.value} {reason}" + (f": {detail}" if detail else ""))
        self.status = status
        self.reason = reason


# HTTP statuses that mean "we were not let in", not "the page is gone".
BLOCKING_HTTP = frozenset({401, 403, 407, 429, 451})
GONE_HTTP = frozenset({404, 410})


def classify_http(http_status: int, *, challenge: bool) -> tuple[Status, str] | None:
    """The inconclusive outcome of a non-success HTTP answer, or None when the page can be judged.

    404/410 are judged (the page is gone: a conclusive miss); 2xx pages are read.
    """
    if challenge or http_status in BLOCKING_HTTP:
        return Status.BLOCKED_BOT, str(http_status)
    if 200 <= http_status < 300 or http_status in GONE_HTTP:
        return None
    # 5xx, a redirect that was not followed, or an odd 4xx: the server failed us, not the link.
    return Status.SERVER_ERROR, str(http_status)


def classify_failure(exc: BaseException) -> tuple[Status, str]:
    """Map a download failure to an inconclusive status and a short reason detail."""
    if isinstance(exc, Inconclusive):
        return exc.status, exc.reason
    if isinstance(exc, sx.IgnoreRequest):
        message = str(exc).lower()
        if "robots.txt" in message:
            return Status.BLOCKED_ROBOTS, "robots.txt"
        if "redirect" in message:
            return Status.SERVER_ERROR, "too_many_redirects"
        if "during decompression" in message:
            # HttpCompressionMiddleware stops a compression bomb at DOWNLOAD_MAXSIZE.
            return Status.TOO_LARGE, "decompressed_maxsize"
        return Status.NETWORK_ERROR, f"ignored: {exc}"[:255]
    if _is_tls_failure(exc):
        return Status.NETWORK_ERROR, "tls"
    for types, status, reason in _FAILURES:
        if isinstance(exc, types):
            return status, reason
    # Anything else (TLS handshake, proxy, protocol errors) is still a fetch error, never a miss.
    return Status.NETWORK_ERROR, _snake(type(exc).__name__)


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether the handshake failed (bad certificate chain, no common cipher, not TLS at all).

    Scrapy wraps Twisted's ``ResponseNeverReceived`` into ``DownloadFailedError``; the OpenSSL
    error is one of the reasons the Twisted exception carries.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SSL.Error):
            return True
        if any(isinstance(getattr(r, "value", None), SSL.Error) for r in getattr(exc, "reasons", ())):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def _snake(name: str) -> str:
    return "".join(("_" + c.lower()) if c.isupper() else c for c in name).lstrip("_")


_FAILURES: tuple[tuple[tuple[type[BaseException], ...], Status, str], ...] = (
    ((sx.DownloadTimeoutError, tx.TimeoutError, TimeoutError), Status.TIMEOUT, "timeout"),
    ((sx.CannotResolveHostError, tx.DNSLookupError), Status.NETWORK_ERROR, "dns"),
    ((sx.DownloadConnectionRefusedError, tx.ConnectionRefusedError), Status.NETWORK_ERROR, "connection_refused"),
    ((sx.ResponseDataLossError,), Status.NETWORK_ERROR, "data_loss"),
    # The HTTP handler cancels a running download only at DOWNLOAD_MAXSIZE; when the body streams
    # without a Content-Length the exception carries no message, so the type alone decides.
    ((sx.DownloadCancelledError,), Status.TOO_LARGE, "download_maxsize"),
    ((tx.ConnectionLost, tx.ConnectionDone), Status.NETWORK_ERROR, "connection_lost"),
    ((sx.DownloadFailedError,), Status.NETWORK_ERROR, "download_failed"),
)
