"""What the exit status of `scrapy crawl verify` says, decided from the crawl's stats. Pure.

Cron, systemd and Scrapyd see only the exit status: a run that lost results, stopped early or was
degraded must not exit 0 like a good night. The codes (README, docs/production.md):

    0  everything due was checked and stored; the run is healthy
    1  the crawl crashed (an unexpected error: its traceback is in the log)
    2  it could not start: a bad -a argument or -s setting, database unreachable, schema too old,
       another process's run with other arguments; nothing was crawled (one line on stderr)
    3  results were not stored (a failed batch or row, an error in a callback): see the run record
    4  the crawl stopped before the end (SIGTERM, a close-spider limit, a start-up error of the
       spider's page source), or the run has work left: the next run resumes it
    5  the run is degraded (mostly inconclusive results): it moved no backlink to lost
    6  results stored and the run healthy, but an alert (webhook, digest) was not delivered: it is
       recorded, and the next run or `backlinks notify` tries again

When several hold, the lowest code above 0 wins: lost data is worse than an unfinished run.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from crawler.core.outcome import RunStatus
from crawler.shell.args import ArgumentError
from crawler.shell.config import SettingsError
from crawler.shell.render.browser import BrowserNotFound
from crawler.shell.runservice import NOTIFY_FAILED
from pipelines.db import SchemaError
from pipelines.runs import RunMismatch

ITEM_ERRORS = "backlinks/item_errors"  # items a pipeline raised on (counted by the crawl command)


class ExitCode(IntEnum):
    OK = 0
    CRASHED = 1
    STARTUP = 2
    NOT_STORED = 3
    INCOMPLETE = 4
    DEGRADED = 5
    NOT_NOTIFIED = 6


def outcome(stats: Mapping[str, Any], *, limited: bool = False) -> tuple[ExitCode, str]:
    """The exit code of a finished crawl and one line saying why; ``limited``: ``-a limit`` was
    given, so work left in the run was asked for, not a failure."""
    problems: list[tuple[ExitCode, str]] = []
    failed_rows = stats.get("backlinks/store/failed_rows", 0)
    if failed_rows:
        problems.append((ExitCode.NOT_STORED, f"{failed_rows} results could not be stored"))
    if "backlinks/run_id" in stats:  # the storage pipeline ran: everything scraped must be stored
        produced = stats.get("item_scraped_count", 0) + stats.get(ITEM_ERRORS, 0)
        unstored = produced - stats.get("backlinks/stored", 0) - failed_rows
        if unstored > 0:
            problems.append((ExitCode.NOT_STORED, f"{unstored} results were not stored"))
    if stats.get("spider_exceptions/count", 0):
        problems.append((ExitCode.NOT_STORED, f"{stats['spider_exceptions/count']} pages failed in the spider"))
    reason = stats.get("finish_reason", "finished")
    if reason != "finished":
        problems.append((ExitCode.INCOMPLETE, f"the crawl stopped early ({reason})"))
    elif stats.get("backlinks/run_status") == RunStatus.INCOMPLETE and not limited:
        problems.append((ExitCode.INCOMPLETE, "the run has work left"))
    if stats.get("backlinks/run_degraded"):
        problems.append((ExitCode.DEGRADED, "the run is degraded: most results were inconclusive"))
    if stats.get(NOTIFY_FAILED, 0):
        problems.append((ExitCode.NOT_NOTIFIED, f"{stats[NOTIFY_FAILED]} alerts not delivered (tried again by the next run)"))
    if not problems:
        return ExitCode.OK, "ok"
    worst = min(code for code, _ in problems)
    return worst, "; ".join(message for _, message in problems)


def startup_problem(exc: BaseException, database_url: str | None = None) -> str | None:
    """The one line to print for an error that kept the crawl from starting; None for any other
    error (a bug: its traceback is worth seeing)."""
    if isinstance(exc, (ArgumentError, SettingsError, SchemaError, RunMismatch, BrowserNotFound)):
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip()  # SettingsError: a problem per line
    if isinstance(exc, OperationalError):  # at start-up: the database is down or refuses us
        shown = make_url(database_url).render_as_string(hide_password=True) if database_url else "the database"
        # The driver's message names host and port, never the password.
        return f"cannot reach database {shown}: {' '.join(str(exc.orig).split())}"
    return None

