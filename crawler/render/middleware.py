"""Browser contexts for render requests: a fresh one every BACKLINKS_RENDER_CONTEXT_PAGES renders.

A context accumulates cache, cookies and renderer memory; closing it after a bounded number of
renders keeps memory flat over thousands of them. This downloader middleware names the context of
each render request (``playwright_context``) when it enters the downloader, in the order the
browser slot serves them, and closes a retired context once its last render has finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Self

from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.render.probe import RenderProbe

logger = logging.getLogger(__name__)

PROBE_META = "backlinks_probe"
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
        """The context the first renders get (launched at start-up, see render.setup)."""
        return f"{CONTEXT_PREFIX}0"

    def assign(self) -> str:
        if self.assigned >= self.per_context:
            self.generation += 1
            self.assigned = 0
        self.assigned += 1
        self.in_flight[self.current] += 1
        return self.current

    def finish(self, name: str) -> bool:
        """Record that a render in ``name`` ended; True when ``name`` is retired and now idle."""
        self.in_flight[name] -= 1
        if self.in_flight[name] > 0:
            return False
        del self.in_flight[name]
        return name != self.current


class BrowserContexts:
    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("BACKLINKS_RENDER_ENABLED", True):
            raise NotConfigured  # rendering is off; with a message Scrapy would log it as a warning
        self.stats = crawler.stats
        self.ledger = ContextLedger(crawler.settings.getint("BACKLINKS_RENDER_CONTEXT_PAGES"))
        self.contexts: dict[str, tuple[BrowserContext, asyncio.AbstractEventLoop]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if request.meta.get("playwright") and PROBE_META in request.meta:
            request.meta["playwright_context"] = self.ledger.assign()
            request.meta["playwright_context_kwargs"] = dict(CONTEXT_KWARGS)

    async def process_response(self, request: Request, response: Response) -> Response:
        await self._finished(request)
        return response

    async def process_exception(self, request: Request, exception: BaseException) -> Any:
        await self._finished(request)
        return None

    async def _finished(self, request: Request) -> None:
        probe: RenderProbe | None = request.meta.get(PROBE_META)
        name = request.meta.get("playwright_context")
        if probe is None or not request.meta.get("playwright") or not isinstance(name, str):
            return
        if probe.context is not None and probe.loop is not None:
            self.contexts[name] = (probe.context, probe.loop)
        if not self.ledger.finish(name):
            return
        found = self.contexts.pop(name, None)
        if found is None:
            return
        context, loop = found
        try:
            # Playwright objects belong to Playwright's event loop, a thread of its own.
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(context.close(), loop))
        except PlaywrightError as exc:  # the browser crashed or closed it already: nothing to free
            logger.debug("Browser context %s was already closed: %s", name, exc)
        self.stats.inc_value("backlinks/render/contexts_recycled")
