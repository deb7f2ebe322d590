"""Download failures as check outcomes: which inconclusive status a Scrapy, Twisted or TLS failure is.

A fetch error is never a miss: every failure maps to an inconclusive :class:`~crawler.core.outcome.Status`.
"""

from __future__ import annotations

from OpenSSL import SSL
from scrapy import exceptions as sx
from twisted.internet import error as tx

from crawler.core.outcome import Status


class Inconclusive(sx.IgnoreRequest):
    """Raised by a downloader middleware that settles a request's outcome without fetching it
    (the address guard, the robots.txt policy); the errback stores ``status`` and ``reason``."""

    def __init__(self, status: Status, reason: str, detail: str = ""):
        super().__init__(f"{status.value} {reason}" + (f": {detail}" if detail else ""))
        self.status = status
        self.reason = reason


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
