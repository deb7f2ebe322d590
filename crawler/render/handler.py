"""scrapy-playwright's download handler, one instance for http and https, with the browser's guard proxy.

Scrapy builds one handler per scheme; scrapy-playwright's would then start two Playwright drivers
and, once both schemes are rendered, two browsers. This subclass hands the same instance to every
scheme of a crawler and closes it once.

It also owns the :class:`~crawler.render.proxy.GuardProxy` that every connection of a browser it
launches goes through, so the proxy lives exactly as long as the browser (restarts included).
"""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.guard import SETTING as GUARD_SETTING
from crawler.guard import AddressGuard
from crawler.render.proxy import GuardProxy
from crawler.resolver import parse_rules

logger = logging.getLogger(__name__)

_SHARED: WeakKeyDictionary[Crawler, SharedPlaywrightHandler] = WeakKeyDictionary()


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
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

    async def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            await super().close()
        finally:
            if self.proxy is not None:
                self.proxy.stop()
