"""scrapy-playwright's download handler, one instance for http and https, with the browser's guard proxy.

Scrapy builds one handler per scheme; scrapy-playwright's would then start two Playwright drivers
and, once both schemes are rendered, two browsers. This subclass hands the same instance to every
scheme of a crawler and closes it once.

It also owns the :class:`~crawler.render.proxy.GuardProxy` that every connection of a browser it
launches goes through, so the proxy lives exactly as long as the browser (restarts included).

The browser starts when the engine does, but the engine does not wait for it: scrapy-playwright
holds the engine until the browser and its first context are up (~0.5 s), while the first renders
are needed only after some static pages were fetched. Renders wait for the launch instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from playwright.async_api import Error as PlaywrightError

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.guard import SETTING as GUARD_SETTING
from crawler.guard import AddressGuard
from crawler.render.proxy import GuardProxy
from crawler.resolver import parse_rules

logger = logging.getLogger(__name__)

_SHARED: WeakKeyDictionary[Crawler, SharedPlaywrightHandler] = WeakKeyDictionary()
T = TypeVar("T")


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._launching: asyncio.Task[None] | None = None  # on Playwright's loop
        self.proxy: GuardProxy | None = None
        if self.config.cdp_url or self.config.connect_url:
            # A browser elsewhere cannot reach a proxy on our loopback; it is guarded where it runs.
            logger.warning("The address guard does not cover a remote browser (PLAYWRIGHT_CDP_URL/CONNECT_URL)")
            return
        settings = crawler.settings
        self.proxy = GuardProxy(
            AddressGuard.from_spec(settings.get(GUARD_SETTING, "")),
            parse_rules(settings.get("BACKLINKS_RESOLVE", "")),
            connect_timeout=settings.getfloat("DOWNLOAD_TIMEOUT"),
        ).start()
        options = self.config.launch_options
        self.config.launch_options = {**options, "args": [*options.get("args", ()), *self.proxy.launch_args]}
        # Handlers close after the stats are dumped; the proxy's counts are read when the spider closes.
        crawler.signals.connect(self._record_proxy_counts, signals.spider_closed)

    def _record_proxy_counts(self) -> None:
        if self.proxy is not None:
            for name, count in self.proxy.counts.items():
                self.stats.set_value(f"backlinks/browser_proxy/{name}", count)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        handler = _SHARED.get(crawler)
        if handler is None:
            handler = _SHARED[crawler] = cls(crawler)
        return handler

    @staticmethod
    def of(crawler: Crawler) -> SharedPlaywrightHandler | None:
        """The crawler's handler, once Scrapy built it."""
        return _SHARED.get(crawler)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on Playwright's loop (its objects belong there) from the crawl's loop."""
        return await self._maybe_future_from_coro(coro)  # type: ignore[no-any-return]

    async def close_context(self, name: str) -> bool:
        """Close the browser context ``name`` (run on Playwright's loop); False if it is not open."""
        wrapper = self.context_wrappers.get(name)
        if wrapper is None:
            return False
        with suppress(PlaywrightError):  # the browser crashed or closed it already: nothing to free
            await wrapper.context.close()
        return True

    async def _maybe_launch_in_thread(self) -> None:
        # engine_started: start the launch and return, so the engine starts fetching now.
        asyncio.ensure_future(self._maybe_future_from_coro(self._launched()))

    async def _launched(self) -> None:
        """Wait for the one launch (on Playwright's loop). A failed launch was logged; each render
        then goes on to fail on its own, with its own status."""
        if self._launching is None:
            self._launching = asyncio.ensure_future(self._launch())
            self._launching.add_done_callback(_log_launch_failure)
        await asyncio.wait([self._launching])

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        await self._launched()
        return await super()._download_request(request, spider)

    async def _close(self) -> None:
        if self._launching is not None:  # a short crawl may end while the browser still starts
            await asyncio.wait([self._launching])
        await super()._close()

    async def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            await super().close()
        finally:
            if self.proxy is not None:
                self.proxy.stop()


def _log_launch_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("The browser did not start: %s", exc, exc_info=exc)
