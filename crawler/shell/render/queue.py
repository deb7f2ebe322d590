"""The scheduler's priority queue for a crawl that renders: browser requests are never starved.

Scrapy's ``DownloaderAwarePriorityQueue`` (the right queue for a broad crawl) hands out the request
of the download slot with the fewest active downloads. Every render shares one slot
(``backlinks-browser``); once a single render runs there, any host with nothing in flight wins over
it, so during the static crawl renders went one at a time and the rest trailed after the last
static page. Here the browser slot counts as idle while it has room for another render, so the
browser works beside the static crawl; when it is full it competes by its real load as before.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from crawler.shell.config import BacklinksSettings
from crawler.shell.render.setup import RENDER_SLOT
from crawler.shell.upstream import SlotRankingQueue

_FIRST = -1  # below any real count of active downloads


class RenderAwarePriorityQueue(SlotRankingQueue):
    def __init__(self, crawler: Crawler, *args: Any, **kwargs: Any):
        super().__init__(crawler, *args, **kwargs)
        self.capacity = BacklinksSettings.from_crawler(crawler).BACKLINKS_RENDER_CONCURRENCY

    def rank(self, slot: str, active: int) -> int:
        return _FIRST if slot == RENDER_SLOT and active < self.capacity else active
