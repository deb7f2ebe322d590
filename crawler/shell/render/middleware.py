"""Browser contexts for render requests: a fresh one every BACKLINKS_RENDER_CONTEXT_PAGES renders.

A context accumulates cache, cookies and renderer memory; closing it after a bounded number of
renders keeps memory flat over thousands of them. This downloader middleware names the context of
each render request (``playwright_context``) when it enters the downloader, in the order the
browser slot serves them, and closes a retired context once its last render has finished, or at
once when it had none left in flight (renders far apart, as in ``auto``). The add-on
(:mod:`crawler.shell.addon`) enables it for a crawl that renders.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.shell.config import BacklinksSettings
from crawler.shell.render.handler import SharedPlaywrightHandler
from crawler.shell.render.probe import PROBE_META

CONTEXT_PREFIX = "backlinks-"
# Cookies and storage stay per context; service workers would serve stale pages from their cache.
CONTEXT_KWARGS = {"service_workers": "block", "ignore_https_errors": True, "java_script_enabled": True}


class ContextLedger:
    """Which context a render gets, and when a context has served its last render. Pure bookkeeping."""

    def __init__(self, per_context: int) -> None:
        if per_context < 1:
            raise ValueError("BACKLINKS_RENDER_CONTEXT_PAGES must be at least 1")
        self.per_context = per_context
        self.generation = 0
        self.assigned = 0
        self.in_flight: Counter[str] = Counter()

    @property
    def current(self) -> str:
        return f"{CONTEXT_PREFIX}{self.generation}"

    @staticmethod
    def first_name() -> str:
        """The context the first renders get (launched at start-up, see crawler.shell.addon)."""
        return f"{CONTEXT_PREFIX}0"

    def assign(self) -> tuple[str, str | None]:
        """The context for the next render, and the context this retires if none of its renders is
        still running (close it now: no :meth:`finish` will report it)."""
        idle = None
        if self.assigned >= self.per_context:
            idle = None if self.in_flight[self.current] else self.current
            self.generation += 1
            self.assigned = 0
        self.assigned += 1
        self.in_flight[self.current] += 1
        return self.current, idle

    def finish(self, name: str) -> bool:
        """Record that a render in ``name`` ended; True when ``name`` is retired and now idle."""
        self.in_flight[name] -= 1
        if self.in_flight[name] > 0:
            return False
        del self.in_flight[name]
        return name != self.current


class BrowserContexts:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.ledger = ContextLedger(BacklinksSettings.from_crawler(crawler).BACKLINKS_RENDER_CONTEXT_PAGES)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if not _is_render(request):
            return
        name, idle = self.ledger.assign()
        request.meta["playwright_context"] = name
        request.meta["playwright_context_kwargs"] = dict(CONTEXT_KWARGS)
        if idle is not None:
            await self._close(idle)

    async def process_response(self, request: Request, response: Response) -> Response:
        await self._finished(request)
        return response

    async def process_exception(self, request: Request, exception: BaseException) -> Any:
        await self._finished(request)
        return None

    async def _finished(self, request: Request) -> None:
        name = request.meta.get("playwright_context")
        if _is_render(request) and isinstance(name, str) and self.ledger.finish(name):
            await self._close(name)

    async def _close(self, name: str) -> None:
        handler = SharedPlaywrightHandler.of(self.crawler)
        # Playwright objects belong to Playwright's event loop, a thread of its own.
        if handler is not None and await handler.call(handler.close_context(name)):
            self.crawler.stats.inc_value("backlinks/render/contexts_recycled")  # type: ignore[union-attr]


def _is_render(request: Request) -> bool:
    return bool(request.meta.get("playwright")) and PROBE_META in request.meta
