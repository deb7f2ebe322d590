"""The one vocabulary of check outcomes, used by the spider, storage, CLI and exports.

Pure: how a Scrapy or Twisted failure maps to a status is the shell's (:mod:`crawler.shell.failures`).

A *status* says what one check concluded about one backlink; a *reason* says why. Conclusive misses
(the page says the link is gone) count towards ``lost``; inconclusive results (we could not see the
page) never do, so a timeout or a firewall can never raise a false alarm.

Beside them, where a live link was found (:class:`FoundIn`) and what became of a run
(:class:`RunStatus`). Their values are stored and exported as they are: they never change.
"""

from __future__ import annotations

from enum import Enum, StrEnum


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


class FoundIn(StrEnum):
    """Where a live link was found (Ahrefs' "raw" and "rendered"): the server's HTML, the browser's
    DOM, or both."""

    RAW = "raw"
    RENDERED = "rendered"
    BOTH = "both"


class RunStatus(StrEnum):
    """What became of a run (``runs.status``) and of each of its processes (``run_workers.status``)."""

    RUNNING = "running"
    FINISHED = "finished"  # a run: all its due work done; a process: it left
    INCOMPLETE = "incomplete"  # a run every process left with work remaining; joining its key resumes it
    INTERRUPTED = "interrupted"  # ended without closing it (the process died)
