"""Where the crawler overrides, or calls, a private internal of Scrapy, scrapy-playwright or Pebble.

Scrapy and scrapy-playwright offer no public hook for these; each piece below says what it changes,
why, and which upstream thread it works around. The rest of the crawler reaches upstream internals
only through the names defined here, but for the two pieces listed at the end, so a change upstream
breaks this module and nothing else. Tested with Scrapy 2.19, scrapy-playwright 0.0.48 and Protego
0.7, the versions ``pyproject.toml`` bounds; ``tests/test_upstream.py`` fails when upstream changes
what these rely on, or fixes what they work around (its message then says which piece can go).

Elsewhere, for a reason each:

- :class:`crawler.core.robotstxt.ProductTokenRobots` overrides Protego's private group selection
  (``Protego._get_matching_rule_set``): it belongs to the pure core, which imports no Scrapy
  shell module.
- ``settings._PLAYWRIGHT_THREADED_LOOP`` turns on scrapy-playwright's private threaded event loop
  (see :class:`PlaywrightHandlerHooks`): a setting, not code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from pebble import ProcessPool
from playwright.async_api import Page
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import Response
from scrapy.pqueues import DownloaderAwarePriorityQueue, DownloaderInterface
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

T = TypeVar("T")


# --- Scrapy's downloader: a slot's concurrency kept -----------------------------------------------


class _StartingQueue(deque[tuple[Request, Any]]):
    def __init__(self, slot: Slot) -> None:
        super().__init__()
        self.slot = slot

    def popleft(self) -> tuple[Request, Any]:
        item = super().popleft()
        self.slot.transferring.add(item[0])
        return item


class SlotKeepingDownloader(Downloader):
    """Scrapy's downloader, with each download slot's concurrency kept.

    Works around https://github.com/scrapy/scrapy/issues/6982 (open: one slot takes all
    ``CONCURRENT_REQUESTS`` although its concurrency is 1). Scrapy 2.19's ``_process_queue`` starts a
    queued download as an asyncio task, and the task counts itself as transferring only once it
    runs. A pass over a slot's queue therefore sees every slot still free and starts every request
    queued there: a host with ``CONCURRENT_REQUESTS_PER_DOMAIN = 2`` got all its queued requests at
    once, and the browser slot (``BACKLINKS_RENDER_CONCURRENCY``) 17 renders at once. Here a request
    counts as transferring from the moment it leaves the slot's queue; the download task adds it
    again (a set) and removes it when done, as before.

    Overrides ``Downloader._get_slot`` (every new slot gets the queue above); relies on
    ``_process_queue`` taking requests with ``slot.queue.popleft()``.
    """

    def _get_slot(self, request: Request, spider: Any = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot.queue, _StartingQueue):  # a new slot: its queue is still empty
            slot.queue = _StartingQueue(slot)
        return key, slot


# --- Scrapy's DownloaderAwarePriorityQueue: the slot order chosen by a subclass --------------------


class _RankedSlots(DownloaderInterface):
    def __init__(self, crawler: Crawler, rank: Callable[[str, int], int]) -> None:
        super().__init__(crawler)
        self.rank = rank

    def stats(self, possible_slots: Iterable[str]) -> list[tuple[int, str]]:
        return [(self.rank(slot, active), slot) for active, slot in super().stats(possible_slots)]


class SlotRankingQueue(DownloaderAwarePriorityQueue):
    """Scrapy's ``DownloaderAwarePriorityQueue``, whose slots a subclass ranks (:meth:`rank`).

    Scrapy's queue hands out the request of the slot with the fewest active downloads, by design
    (https://github.com/scrapy/scrapy/pull/3520), whatever the slot's concurrency; there is no
    setting or hook for another order. Its ``pop`` and ``peek`` rank the slots through the private
    ``_downloader_interface``, replaced here by one whose ``stats`` asks :meth:`rank`.
    """

    def __init__(self, crawler: Crawler, *args: Any, **kwargs: Any):
        super().__init__(crawler, *args, **kwargs)
        self._downloader_interface = _RankedSlots(crawler, self.rank)

    def rank(self, slot: str, active: int) -> int:
        """The number ``slot`` is ranked by, lowest first: by default its ``active`` downloads."""
        return active


# --- Scrapy's redirect middlewares: their redirect steps ---------------------------------------------


class RefreshRedirects(MetaRefreshMiddleware):
    """Scrapy's ``MetaRefreshMiddleware``, its private redirect steps under names of ours.

    Our refresh middleware follows refreshes as Scrapy follows redirects: headers dropped as for a
    GET redirect, counted towards ``REDIRECT_MAX_TIMES``, listed in ``redirect_urls``. Scrapy's
    redirect middlewares build that in private methods of ``BaseRedirectMiddleware``, with no
    public equivalent (subclassing them is the way Scrapy's documentation gives to change what
    they follow: https://github.com/scrapy/scrapy/issues/4009).
    """

    def redirect_using_get(self, request: Request, response: Response, url: str) -> Request:
        """A GET of ``url`` in place of ``request``, headers and body dropped as for a redirect."""
        return self._redirect_request_using_get(request, response, url)

    def counted_redirect(self, redirected: Request, request: Request, reason: str) -> Request:
        """``redirected`` as a redirect of ``request``; IgnoreRequest past ``REDIRECT_MAX_TIMES``."""
        return self._redirect(redirected, request, reason)


# --- scrapy-playwright's download handler: its private steps under names of ours -------------------


class PlaywrightHandlerHooks(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's download handler, whose private steps a subclass overrides by our names.

    scrapy-playwright 0.0.48 has public hooks for none of these steps. Each private method it calls
    is overridden here by a one-line hand-over to a method of ours, whose default is upstream's
    step; :class:`crawler.shell.render.handler.SharedPlaywrightHandler` overrides those.

    - :meth:`launch_on_engine_start` (``_maybe_launch_in_thread``, connected to ``engine_started``):
      upstream holds the engine until the browser and its first context are up; ours starts the
      launch and returns, renders wait for it (no upstream issue found).
    - :meth:`render` (``_download_request``, with upstream's retries of a closed tab): the public
      ``download_request`` runs on the crawl's loop, this one on Playwright's, where pages belong.
      Page reuse builds on upstream's public ``playwright_page`` meta; with
      ``playwright_include_page`` upstream closes no page, those of its retries neither, and leaves
      that to the caller (https://github.com/scrapy-plugins/scrapy-playwright/issues/190 for
      Scrapy's retries).
    - :meth:`new_page` (``_create_page``): once per new page. The public
      ``playwright_page_init_callback`` runs for every request, on a reused page again, logs its
      errors instead of failing the render, and is the probe's already.
    - :meth:`after_navigation` (``_apply_page_methods``): upstream waits for the load event after
      each page method (``page.wait_for_load_state()``, there since 2020; no upstream issue
      found), so a page method cannot end a render at DOMContentLoaded.
    - :meth:`close_browser` (``_close``, run on Playwright's loop when the handler closes): ours
      first stops what it runs there itself (the idle-page trimming, a launch still under way).
    - :meth:`launch` (``_launch``) and :meth:`playwright_loop` (``_maybe_future_from_coro``), called.

    Playwright runs on its own thread's loop when ``_PLAYWRIGHT_THREADED_LOOP`` is set: "a private
    undocumented setting intended only for tests"
    (https://github.com/scrapy-plugins/scrapy-playwright/issues/353), upstream's Windows mechanism.
    """

    # Upstream's private methods, handed to ours.

    async def _maybe_launch_in_thread(self) -> None:
        await self.launch_on_engine_start()

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        return await self.render(request, spider)

    async def _create_page(self, request: Any, spider: Any) -> Page:
        return await self.new_page(request, spider)

    async def _apply_page_methods(self, page: Page, request: Any, spider: Any) -> None:
        await self.after_navigation(page, request, spider)

    async def _close(self) -> None:
        await self.close_browser()

    # Upstream's steps, for a subclass to override or call.

    async def launch_on_engine_start(self) -> None:
        await super()._maybe_launch_in_thread()

    async def launch(self) -> None:
        """Start Playwright and the startup contexts (browsers start with their first context)."""
        await self._launch()

    async def render(self, request: Any, spider: Any) -> Any:
        """Render ``request`` on Playwright's loop, retrying on a new page when the tab closed."""
        return await super()._download_request(request, spider)

    async def new_page(self, request: Any, spider: Any) -> Page:
        return await super()._create_page(request, spider)

    async def after_navigation(self, page: Page, request: Any, spider: Any) -> None:
        """Run the request's ``playwright_page_methods`` once the page has loaded."""
        await super()._apply_page_methods(page, request, spider)

    async def close_browser(self) -> None:
        await super()._close()

    def playwright_loop(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """``coro`` to be awaited from the crawl's loop, run on Playwright's."""
        return self._maybe_future_from_coro(coro)  # type: ignore[return-value]


# --- Pebble's process pool: its workers stopped before their channel is closed ----------------------


def stop_process_pool(pool: ProcessPool) -> None:
    """Stop ``pool`` and its workers, also one that is still starting, without a traceback.

    Pebble 5.2's ``ProcessPool.join`` closes the workers' channel before it stops the workers
    (``PoolManager.stop``). A worker the pool has just started, to replace one stopped over its time
    budget, may still be unpickling that channel's locks in the new process: it finds them gone and
    dies with ``FileNotFoundError`` in ``SemLock._rebuild``, a traceback on the crawl's stderr (seen
    in tests/test_faults.py when the attribute-bomb page timed out a second before the crawl
    ended). Here no worker is started once the pool stops, the workers are stopped, and only then
    does Pebble close the channel. No upstream issue found.
    """
    pool.stop()
    if pool._pool_manager_loop is not None:  # started with the pool's first use
        pool._pool_manager_loop.join()  # it replaces workers; after this, none is started
    pool._pool_manager.worker_manager.force_stop_workers()
    pool.join()
