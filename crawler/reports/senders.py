"""The I/O of alerts: POST the webhook, hand a digest to Apprise. Each try is bounded (timeouts),
tried again with back-off, and reported as one :class:`Attempt` whose error is one line without a
secret in it.

Apprise (an optional extra) is imported only here, only when a digest goes out. Its own log lines
print whole URLs, tokens included, at DEBUG (``Loaded JSON URL: json://token@host``), and the
HTTP library under it logs request paths, where tokens sit too: while it sends, those loggers
pass on only warnings and errors, with every part of the URL that may be secret replaced.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from crawler.core.alerts import SIGNATURE_HEADER, redact, scheme, secret_fragments, signature

NOT_INSTALLED = "Apprise is not installed: pip install 'backlinks-verify[notify]'"
# Loggers that may print an Apprise URL or a request path while a digest goes out.
_NOISY_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "requests")
_RETRYABLE_HTTP = {408, 425, 429}


@dataclass(frozen=True)
class Attempt:
    ok: bool
    attempts: int  # requests made
    error: str | None = None  # the last failure, one line, no secret


def _user_agent() -> str:
    try:
        return f"backlinks-verify/{version('backlinks-verify')}"
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "backlinks-verify"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 to a POST with a GET without the body, and call the 200 that
    # follows a success: a webhook that moved must fail loudly instead.
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _retrying(send: Callable[[], tuple[bool, str | None, bool]], attempts: int, backoff: float,
              sleep: Callable[[float], None]) -> Attempt:
    """Call ``send`` (ok, error, worth retrying) up to ``attempts`` times, waiting ``backoff`` s,
    then twice that, and so on, between tries."""
    error: str | None = None
    for number in range(1, attempts + 1):
        ok, error, again = send()
        if ok:
            return Attempt(True, number)
        if not again or number == attempts:
            return Attempt(False, number, error)
        sleep(backoff * 2 ** (number - 1))
    return Attempt(False, attempts, error)


def post_webhook(url: str, secret: str, body: bytes, *, delivery_id: str, timeout: float, attempts: int,
                 backoff: float, sleep: Callable[[float], None] = time.sleep) -> Attempt:
    """POST ``body`` (signed JSON) to ``url``: a 2xx answer is a delivery. Errors say what happened,
    never the URL (which may carry a token) or the secret."""
    opener = urllib.request.build_opener(_NoRedirect)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": _user_agent(),
        "X-Backlinks-Delivery": delivery_id,
        SIGNATURE_HEADER: signature(secret, body),
    }

    def send() -> tuple[bool, str | None, bool]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(65536)
                return True, None, False
        except urllib.error.HTTPError as exc:
            code = exc.code
            if 300 <= code < 400:
                return False, f"answered HTTP {code} (a redirect: give the webhook's final URL)", False
            return False, f"answered HTTP {code}", code >= 500 or code in _RETRYABLE_HTTP
        except (TimeoutError, socket.timeout):
            return False, f"no answer within {timeout:g} s", True
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return False, f"no answer within {timeout:g} s", True
            return False, _oserror(reason), True
        except OSError as exc:  # reset mid-answer, and the like
            return False, _oserror(exc), True

    return _retrying(send, attempts, backoff, sleep)


def _oserror(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host not found"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)[:200]


class _Redacting(logging.Filter):
    """Drops a noisy logger's records below WARNING, blanks secrets in the rest and keeps them."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = secrets
        self.seen: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        record.exc_info = record.exc_text = record.stack_info = None  # a traceback may hold the URL
        self.seen.append(record.msg)
        return True


@contextmanager
def _quiet(secrets: set[str]) -> Iterator[_Redacting]:
    guard = _Redacting(secrets)
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    for logger in loggers:
        logger.addFilter(guard)
    try:
        yield guard
    finally:
        for logger in loggers:
            logger.removeFilter(guard)


def send_apprise(url: str, place: int, title: str, body: str, *, attempts: int, backoff: float,
                 sleep: Callable[[float], None] = time.sleep) -> Attempt:
    """Hand one digest to Apprise for the ``place``-th URL of BACKLINKS_NOTIFY_URLS."""
    try:
        import apprise  # noqa: PLC0415 (the optional extra: only when a digest goes out)
    except ImportError:
        return Attempt(False, 0, NOT_INSTALLED)
    secrets = secret_fragments(url)
    with _quiet(secrets) as guard:
        notifier = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        if not notifier.add(url):
            return Attempt(False, 0, f"Apprise cannot use URL {place} ({scheme(url)}://...): unknown scheme or bad form")

        def send() -> tuple[bool, str | None, bool]:
            before = len(guard.seen)
            try:
                ok = bool(notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
            except Exception as exc:  # a plugin's bug: its message may quote the URL, so only its class
                guard.seen.append(f"Apprise failed: {type(exc).__name__}")
                ok = False
            said = guard.seen[before:]
            return ok, None if ok else (said[-1] if said else "Apprise could not deliver it"), True

        attempt = _retrying(send, attempts, backoff, sleep)
    error = None if attempt.error is None else redact(" ".join(attempt.error.split())[:300], secrets)
    return Attempt(attempt.ok, attempt.attempts, error)
