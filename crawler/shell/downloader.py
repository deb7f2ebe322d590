"""Scrapy's downloader, with each download slot's concurrency kept (scrapy/scrapy#6982).

Scrapy 2.19 starts a queued download as an asyncio task, and the task counts itself as
transferring only once it runs. A pass over a slot's queue therefore sees every slot still free
and starts every request queued there: a host with ``CONCURRENT_REQUESTS_PER_DOMAIN = 2`` got all
its queued requests at once, and the browser slot (``BACKLINKS_RENDER_CONCURRENCY``) 17 renders
at once. Here a request counts as transferring from the moment it leaves the slot's queue; the
download task adds it again (a set) and removes it when done, as before.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot


class _StartingQueue(deque[tuple[Request, Any]]):
    def __init__(self, slot: Slot) -> None:
        super().__init__()
        self.slot = slot

    def popleft(self) -> tuple[Request, Any]:
        item = super().popleft()
        self.slot.transferring.add(item[0])
        return item


class SlotKeepingDownloader(Downloader):
    def _get_slot(self, request: Request, spider: Any = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot.queue, _StartingQueue):  # a new slot: its queue is still empty
            slot.queue = _StartingQueue(slot)
        return key, slot
