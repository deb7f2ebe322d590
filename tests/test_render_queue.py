"""The scheduler queue gives the browser's download slot its turn while it has room for a render."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.pqueues import DownloaderAwarePriorityQueue
from scrapy.squeues import FifoMemoryQueue
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.test import get_crawler

from crawler.shell.render.queue import RenderAwarePriorityQueue
from crawler.shell.render.setup import RENDER_SLOT


class FakeDownloader:
    """Only what the queue asks of the downloader: each slot's active requests, a request's slot."""

    def __init__(self, active: dict[str, int]) -> None:
        self.slots = {slot: SimpleNamespace(active=set(range(count))) for slot, count in active.items()}

    def get_slot_key(self, request: Request) -> str:
        return request.meta.get("download_slot") or urlparse_cached(request).hostname or ""


def _queue(cls: type[DownloaderAwarePriorityQueue], active: dict[str, int]) -> DownloaderAwarePriorityQueue:
    crawler = get_crawler(Spider, {"BACKLINKS_RENDER_CONCURRENCY": 4})
    crawler.engine = SimpleNamespace(downloader=FakeDownloader(active))  # type: ignore[assignment]
    queue = cls.from_crawler(crawler, FifoMemoryQueue, "")
    for host in ("a.test", "b.test", "c.test"):
        queue.push(Request(f"http://{host}/"))
    queue.push(Request("http://app.test/", meta={"download_slot": RENDER_SLOT}))
    return queue


def _popped(queue: Any) -> list[str]:
    out = []
    while (request := queue.pop()) is not None:
        out.append(request.meta.get("download_slot", "static"))
    return out


@pytest.mark.parametrize("rendering", [0, 1, 3])
def test_a_render_goes_first_while_the_browser_has_room(rendering: int) -> None:
    queue = _queue(RenderAwarePriorityQueue, {RENDER_SLOT: rendering})
    assert _popped(queue)[0] == RENDER_SLOT


def test_a_full_browser_waits_like_any_busy_slot() -> None:
    queue = _queue(RenderAwarePriorityQueue, {RENDER_SLOT: 4})
    assert _popped(queue) == ["static", "static", "static", RENDER_SLOT]


def test_scrapys_queue_alone_would_starve_the_browser() -> None:
    # Why the subclass exists: with one render running, every idle host goes first.
    queue = _queue(DownloaderAwarePriorityQueue, {RENDER_SLOT: 1})
    assert _popped(queue) == ["static", "static", "static", RENDER_SLOT]
