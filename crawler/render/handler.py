"""scrapy-playwright's download handler, one instance for http and https.

Scrapy builds one handler per scheme; scrapy-playwright's would then start two Playwright drivers
and, once both schemes are rendered, two browsers. This subclass hands the same instance to every
scheme of a crawler and closes it once.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from scrapy.crawler import Crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

_SHARED: WeakKeyDictionary[Crawler, SharedPlaywrightHandler] = WeakKeyDictionary()


class SharedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    lazy = False

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
        await super().close()
