"""`scrapy crawl`, with an exit status that says whether the night's results were all stored.

Scrapy's own command exits 0 whenever the spider was created, so cron never heard of lost batches
or a degraded run, and a start-up error printed 35-220 lines of traceback. This one runs the crawl
the same way, then exits with :func:`crawler.cli.exitcode.outcome` of the crawl's stats; an error that
kept the crawl from starting is one line on stderr (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import sys

from scrapy import Spider, signals
from scrapy.commands import crawl
from scrapy.crawler import Crawler
from twisted.internet.defer import Deferred

from crawler.cli.exitcode import ITEM_ERRORS, ExitCode, outcome, startup_problem
from crawler.shell.runservice import RunService
from crawler.shell.config import BacklinksSettings, SettingsError

logger = logging.getLogger(__name__)


class Command(crawl.Command):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        preflight = getattr(crawler.spidercls, "preflight", None)
        if preflight is not None:
            try:
                preflight(crawler.settings, opts.spargs)
            except Exception as exc:
                self.exitcode = self._failed_start(crawler, exc)
                return
        # An item a pipeline failed on (a batch the database refused) is counted: it was not stored.
        crawler.signals.connect(self._item_error, signal=signals.item_error)
        started = self.crawler_process.crawl(crawler, **opts.spargs)
        errors: list[BaseException] = []
        if isinstance(started, Deferred):  # FORCE_CRAWLER_PROCESS: Twisted's own loop
            started.addErrback(lambda failure: errors.append(failure.value))
        else:
            # Taking the exception out of the task stops asyncio from printing it with its traceback.
            started.add_done_callback(lambda task: task.cancelled() or _keep(errors, task.exception()))
        self.crawler_process.start()
        if errors:
            self.exitcode = self._failed_start(crawler, errors[0])
            return
        if (joining := _join_error(crawler)) is not None:  # e.g. the database went away after preflight
            self.exitcode = self._failed_start(crawler, joining)
            return
        if self.crawler_process.bootstrap_failed:
            self.exitcode = ExitCode.CRASHED
            return
        code, why = outcome(crawler.stats.get_stats(), limited="limit" in opts.spargs)
        if code is not ExitCode.OK:
            # The log may be a file under Scrapyd; cron mails what reaches stderr.
            logger.warning("Exit status %d: %s", code, why)
            print(f"scrapy crawl {args[0]}: exit {int(code)}: {why}", file=sys.stderr)
        self.exitcode = code

    @staticmethod
    def _item_error(spider: Spider, **_: object) -> None:
        spider.crawler.stats.inc_value(ITEM_ERRORS)

    def _failed_start(self, crawler: Crawler, exc: BaseException) -> int:
        # Only a SettingsError says the settings cannot be read; after any other, they were checked.
        url = None if isinstance(exc, SettingsError) else BacklinksSettings.from_crawler(crawler).BACKLINKS_DATABASE_URL
        message = startup_problem(exc, url)
        if message is None:
            logger.error("The crawl could not start", exc_info=(type(exc), exc, exc.__traceback__))
            return ExitCode.CRASHED
        print(f"error: {message}", file=sys.stderr)
        return ExitCode.STARTUP


def _join_error(crawler: Crawler) -> Exception | None:
    """Why the crawl's process could not join its run, if it could not."""
    try:
        service = crawler.get_extension(RunService)
    except RuntimeError:  # the crawl failed before its extensions were built
        return None
    return None if service is None else service.join_error


def _keep(errors: list[BaseException], exc: BaseException | None) -> None:
    if exc is not None:
        errors.append(exc)

