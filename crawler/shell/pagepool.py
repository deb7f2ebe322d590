"""Parsing and extraction off the reactor: every page is read in a worker process, with a time budget.

lxml's HTML parser holds the thread that calls it, and some inputs make it slow without bound:
attributes of one element are checked for duplicates one by one, so ``<div a0=1 ... a999999=1>``
(9 MB, under the page limit) takes hours. On the reactor thread that froze the whole crawl: no
download, no log line, no batch written, and SIGTERM (a Python signal handler) never ran.

A thread would keep the reactor free but cannot be stopped, and its page would hold a core (and
the shutdown) until lxml returned. A process can be killed: pebble's ``ProcessPool`` ends a worker
whose task overruns its timeout and starts a fresh one, so a page over budget costs at most the
budget. Measured cost per page on the static benchmark: docs/benchmarks.md.

Workers are spawned, not forked: the crawler has threads (the reactor's pool, Playwright's loop),
and a forked child would inherit their locks. As with any spawned process, the worker imports the
parent's main module first: `scrapy`, `python -m scrapy` and Scrapyd's runner guard their entry
point; a script of your own that starts a crawl must too (``if __name__ == "__main__":``). Each
worker holds ~70 MB (lxml, parsel, pydantic and the extraction code).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import ParamSpec, TypeVar

from pebble import ProcessExpired, ProcessPool

from crawler.core.items import DueBacklink, Observation
from crawler.core.mentions import Brands
from crawler.core.observe import Fetched, observe_page
from crawler.core.render_policy import RenderReason, render_after_static

P = ParamSpec("P")
T = TypeVar("T")

# Reasons of the `too_large` status for a page the worker could not read (README's status table).
PARSE_TIMEOUT = "parse_timeout"
PARSE_CRASHED = "parse_crashed"
# A worker ended by one of these was stopped with the crawl (systemd stopping the unit's processes,
# a terminal hanging up), not by its page: that page is left unread, still due, rather than called
# too large. pebble's workers exit with the number of the SIGTERM they got (and ignore SIGINT: a
# Ctrl-C reaches the whole process group, and the crawl shuts itself down cleanly).
_STOPPED_BY = {signal.SIGTERM, -signal.SIGTERM, -signal.SIGHUP}


class OverBudget(Exception):
    """The page could not be read within its budget (``reason``: one of the reasons above)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Interrupted(Exception):
    """The worker was stopped from outside while it read the page (the crawl is shutting down)."""


class PagePool:
    """``workers`` processes; each call may run ``budget`` seconds before its worker is replaced."""

    def __init__(self, workers: int, budget: float):
        self.budget = budget
        self._pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("spawn"))

    def start(self) -> None:
        """Start the workers now (they import the extraction code while the crawl starts up)."""
        self._pool.active  # noqa: B018 - pebble starts its workers on first use of the pool

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in a worker; raises :class:`OverBudget` or
        :class:`Interrupted`. Arguments and result travel pickled."""
        future = self._pool.schedule(function, args=args, kwargs=kwargs, timeout=self.budget)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            raise OverBudget(PARSE_TIMEOUT) from None
        except ProcessExpired as exc:
            if exc.exitcode in _STOPPED_BY:
                raise Interrupted(str(exc)) from None
            raise OverBudget(PARSE_CRASHED) from None

    def close(self) -> None:
        """Stop the workers, also one busy with a page (what it was reading is not stored)."""
        # Imported here: the workers import this module (for read_static), and need no Scrapy.
        from crawler.shell.upstream import stop_process_pool

        stop_process_pool(self._pool)


def read_static(
    backlinks: list[DueBacklink],
    page: Fetched,
    at: datetime,
    *,
    strip_tracking: bool,
    auto_render: bool,
    confirm_by_render: bool,
    brands: Brands = Brands(),
) -> tuple[list[Observation], RenderReason | None]:
    """In a worker: the observations of a statically fetched page and, in ``render=auto``, whether
    it needs the browser (which parses the page again: that too is off the reactor)."""
    observations = observe_page(backlinks, page, at, strip_tracking=strip_tracking, brands=brands)
    if not auto_render:
        return observations, None
    return observations, render_after_static(observations, page.text, confirm_misses=confirm_by_render)

