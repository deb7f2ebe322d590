"""scrapy-playwright's download handler, one instance for http and https, with the browser's guard proxy.

Scrapy builds one handler per scheme; scrapy-playwright's would then start two Playwright drivers
and, once both schemes are rendered, two browsers (and two handlers sharing nothing, see
https://github.com/scrapy-plugins/scrapy-playwright/issues/355). This subclass hands the same
instance to every scheme of a crawler and closes it once.

It also owns the :class:`~crawler.shell.render.proxy.GuardProxy` that every connection of a browser it
launches goes through, so the proxy lives exactly as long as the browser (restarts included).

The browser starts when the engine does, but the engine does not wait for it: scrapy-playwright
holds the engine until the browser and its first context are up (~0.5 s), while the first renders
are needed only after some static pages were fetched. Renders wait for the launch instead.

A render that asks for it (``backlinks_reuse_page`` in its meta) gets a page that a finished render
left in its context, if there is one. A new page costs the browser a target, its setup (a dozen
protocol round trips) and its closing: about a third of the browser's and of Playwright's CPU for
a small page. A page whose render succeeded goes back to its context's pool; a page whose render
failed is closed; a pooled page waits on ``about:blank``, so nothing of its last document keeps
loading; a pooled page that turns out broken (its tab crashed while idle) costs the render one more
try, on a new page. Pages leave the pool with their context, or once unused for
``BACKLINKS_RENDER_PAGE_IDLE`` seconds (renders far apart). The pool is only touched on
Playwright's loop, and it never holds more pages than the context's page cap, which is also the
number of renders at once (so a render never waits for a page slot held by an idle page).

The steps of scrapy-playwright it changes are private; it reaches them through
:class:`~crawler.shell.upstream.PlaywrightHandlerHooks`, which says why for each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy_playwright.handler import DEFAULT_CONTEXT_NAME

from crawler.core.guard import AddressGuard
from crawler.core.hostmap import parse_rules
from crawler.shell.config import BacklinksSettings
from crawler.shell.render.browser import classify_render_failure
from crawler.shell.render.probe import PROBE_META, QUIET_SCRIPT, RenderProbe
from crawler.shell.render.proxy import GuardProxy
from crawler.shell.upstream import PlaywrightHandlerHooks

logger = logging.getLogger(__name__)

_SHARED: WeakKeyDictionary[Crawler, SharedPlaywrightHandler] = WeakKeyDictionary()
T = TypeVar("T")
REUSE_META = "backlinks_reuse_page"
STOP_SECONDS = 2.0  # for a pooled page to leave its document
_OPENED_META = "backlinks_pages_opened"  # during one render attempt


class SharedPlaywrightHandler(PlaywrightHandlerHooks):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._launching: asyncio.Task[None] | None = None  # on Playwright's loop
        # Per context name: pooled pages, each with the loop time it was left at; on Playwright's loop.
        self.idle_pages: dict[str, list[tuple[Page, float]]] = {}
        ours = BacklinksSettings.from_crawler(crawler)
        self.page_idle = ours.BACKLINKS_RENDER_PAGE_IDLE
        self._trimming: asyncio.Task[None] | None = None
        self.proxy: GuardProxy | None = None
        # Handlers close after the stats are dumped: counts are taken when the spider closes.
        crawler.signals.connect(self._record_counts, signals.spider_closed)
        if self.config.cdp_url or self.config.connect_url:
            # A browser elsewhere cannot reach a proxy on our loopback; it is guarded where it runs.
            logger.warning("The address guard does not cover a remote browser (PLAYWRIGHT_CDP_URL/CONNECT_URL)")
            return
        self.proxy = GuardProxy(
            AddressGuard.from_spec(ours.BACKLINKS_ALLOWED_NETWORKS),
            parse_rules(ours.BACKLINKS_RESOLVE),
            connect_timeout=crawler.settings.getfloat("DOWNLOAD_TIMEOUT"),
        ).start()
        options = self.config.launch_options
        self.config.launch_options = {**options, "args": [*options.get("args", ()), *self.proxy.launch_args]}

    def _record_counts(self) -> None:
        if self.proxy is not None:
            for name, count in self.proxy.counts.items():
                self.stats.set_value(f"backlinks/browser_proxy/{name}", count)
        # Every page is in use, in the pool or closed; once the renders are over, none in use.
        pooled = sum(not page.is_closed() for pages in self.idle_pages.values() for page, _since in pages)
        opened = sum(len(wrapper.context.pages) for wrapper in self.context_wrappers.values())
        self.stats.set_value("backlinks/render/pages_left_open", opened - pooled)

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
        return await self.playwright_loop(coro)

    async def close_context(self, name: str) -> bool:
        """Close the browser context ``name`` (run on Playwright's loop); False if it is not open."""
        self.idle_pages.pop(name, None)  # closed with the context
        wrapper = self.context_wrappers.get(name)
        if wrapper is None:
            return False
        with suppress(PlaywrightError):  # the browser crashed or closed it already: nothing to free
            await wrapper.context.close()
        return True

    async def launch_on_engine_start(self) -> None:
        # Start the launch and return, so the engine starts fetching now.
        asyncio.ensure_future(self.playwright_loop(self._launched()))

    async def _launched(self) -> None:
        """Wait for the one launch (on Playwright's loop). A failed launch was logged; each render
        then goes on to fail on its own, with its own status."""
        if self._launching is None:
            self._launching = asyncio.ensure_future(self.launch())
            self._launching.add_done_callback(_log_launch_failure)
            self._trimming = asyncio.ensure_future(self._trim_idle_pages())
        await asyncio.wait([self._launching])

    async def render(self, request: Any, spider: Any) -> Any:
        await self._launched()
        if not request.meta.get(REUSE_META):
            return await super().render(request, spider)
        name = request.meta.setdefault("playwright_context", DEFAULT_CONTEXT_NAME)
        request.meta["playwright_include_page"] = True  # scrapy-playwright leaves the page to us
        pooled = await self._idle_page(name)
        try:
            response = await self._attempt(request, spider, pooled)
        except Exception as exc:
            if pooled is None or classify_render_failure(exc)[1] != "render_crashed":
                raise
            # The pooled page was broken (its tab crashed while idle), or the page crashes any tab.
            self.stats.inc_value("backlinks/render/reused_page_failed")
            response = await self._attempt(request, spider, None)
        page = request.meta.pop("playwright_page")  # the spider has no use for it
        if not page.is_closed() and name in self.context_wrappers and await _stopped(page):
            self.idle_pages.setdefault(name, []).append((page, asyncio.get_running_loop().time()))
        else:
            await _close_page(page)
        return response

    async def _attempt(self, request: Any, spider: Any, page: Page | None) -> Any:
        """One try at a render, on ``page`` or a new page. Every page it opened or was given is
        closed, except the one the render succeeded on (scrapy-playwright retries a closed tab
        on a new page, and with ``playwright_include_page`` it closes none of them)."""
        request.meta["playwright_page"] = page
        opened = request.meta[_OPENED_META] = []
        try:
            response = await super().render(request, spider)
        except BaseException:
            for stale in {page, *opened}:
                await _close_page(stale)
            request.meta.pop("playwright_page", None)
            raise
        finally:
            del request.meta[_OPENED_META]
        for stale in {page, *opened} - {request.meta["playwright_page"]}:
            await _close_page(stale)
        return response

    async def new_page(self, request: Any, spider: Any) -> Page:
        page = await super().new_page(request, spider)
        if (opened := request.meta.get(_OPENED_META)) is not None:
            opened.append(page)
        # No modal dialogs, no windows (see QUIET_SCRIPT); a popup that opens anyway is closed at
        # once: a page that opened a thousand of them left 231 pages open.
        await page.add_init_script(QUIET_SCRIPT)
        page.on("popup", _close_popup)
        page.on("dialog", _dismiss)
        return page

    async def after_navigation(self, page: Page, request: Any, spider: Any) -> None:
        """A render ends with its probe, once the DOM is there.

        scrapy-playwright 0.0.48 waits for the load event after each page method
        (``page.wait_for_load_state()`` in ``_apply_page_methods``): one slow or unreachable
        third-party host made every render wait for it, up to the navigation timeout. Renders
        navigate until DOMContentLoaded (``playwright_page_goto_kwargs``) and this runs the probe
        instead; requests of other crawls keep upstream's behaviour.
        """
        probe = request.meta.get(PROBE_META)
        if not isinstance(probe, RenderProbe):
            await super().after_navigation(page, request, spider)
            return
        await probe.inspect(page)

    async def _idle_page(self, name: str) -> Page | None:
        # Pooled pages wait on about:blank (_stopped): the next navigation always loads afresh.
        pages = self.idle_pages.get(name, [])
        while pages:
            page, _since = pages.pop()  # the most recently used: its renderer is the warmest
            if page.is_closed():
                continue
            self.stats.inc_value("backlinks/render/pages_reused")
            return page
        return None

    async def _trim_idle_pages(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.page_idle / 2)
            cutoff = loop.time() - self.page_idle
            stale = []
            for pages in self.idle_pages.values():
                stale += [page for page, since in pages if since < cutoff]
                pages[:] = [(page, since) for page, since in pages if since >= cutoff]
            for page in stale:
                await _close_page(page)
                self.stats.inc_value("backlinks/render/idle_pages_closed")

    async def close_browser(self) -> None:
        if self._trimming is not None:
            self._trimming.cancel()
        if self._launching is not None:  # a short crawl may end while the browser still starts
            await asyncio.wait([self._launching])
        self.idle_pages.clear()
        await super().close_browser()

    async def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            await super().close()
        finally:
            if self.proxy is not None:
                self.proxy.stop()


async def _stopped(page: Page) -> bool:
    """Leave the rendered document for an empty one, so that what it still loads (the render ended
    at DOMContentLoaded plus the probe) is abandoned: an idle page kept its hanging sub-resources'
    connections open, and Chromium, with at most 32 connections per proxy, made the next renders
    wait for them. False if the page does not answer (it is closed instead)."""
    try:
        await page.goto("about:blank", wait_until="commit", timeout=STOP_SECONDS * 1000)
    except PlaywrightError:
        return False
    return True


async def _close_popup(popup: Page) -> None:
    await _close_page(popup)


async def _dismiss(dialog: Any) -> None:
    # Registering a dialog listener turns off Playwright's own dismissal: dismiss here (the init
    # script leaves only dialogs it cannot replace, such as beforeunload).
    with suppress(PlaywrightError):
        await dialog.dismiss()


async def _close_page(page: Any) -> None:
    if isinstance(page, Page) and not page.is_closed():
        with suppress(PlaywrightError):  # the tab or the browser is gone already
            await page.close()


def _log_launch_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("The browser did not start: %s", exc, exc_info=exc)
