"""The Scrapy add-on (``ADDONS`` in settings/__init__.py) that wires rendering into a crawl.

Scrapy's and scrapy-playwright's settings that follow from ours or from the crawl's render plan
are set here, and only here: the target checks' download slot, the download handlers, the browser's download slot, the browser
contexts' middleware and the ``PLAYWRIGHT_*`` settings. A crawl that renders nothing (``never``,
or ``auto`` with no browser) gets none of them: Scrapy's plain HTTP handler takes every request
and no Playwright driver starts.

Scrapy applies add-ons after it created the spider and before it freezes the settings, so the
plan (crawler.shell.render.setup) already holds the spider's ``render`` argument.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.shell.config import BacklinksSettings
from crawler.shell.render.browser import launch_options
from crawler.shell.render.middleware import CONTEXT_KWARGS, BrowserContexts, ContextLedger
from crawler.shell.render.setup import RENDER_SLOT, render_plan
from crawler.shell.targetcheck import TARGET_SLOT

# scrapy-playwright's handler, one instance (one Playwright driver, one browser) for both schemes;
# it passes every request without meta["playwright"] to Scrapy's plain HTTP handler.
HANDLER = "crawler.shell.render.handler.SharedPlaywrightHandler"
# Defaults: a project setting or -s wins over each.
PLAYWRIGHT = {
    "PLAYWRIGHT_BROWSER_TYPE": "chromium",
    "PLAYWRIGHT_ABORT_REQUEST": "crawler.shell.render.browser.abort_request",  # images, fonts, media, beacons, frames
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 20_000,  # ms until DOMContentLoaded; beyond it the render failed
    "PLAYWRIGHT_MAX_CONTEXTS": 2,  # the current context and the one being retired
    # Playwright in an event loop of its own thread (scrapy-playwright's Windows mechanism, enabled
    # by this underscore setting): on the crawl's loop, busy with hundreds of static pages, each of a
    # render's ~15 round trips to the browser waited its turn, creating a page took ~2 s, and in
    # `render=auto` the renders trailed after the static crawl instead of running beside it.
    "_PLAYWRIGHT_THREADED_LOOP": True,
    "PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER": True,  # a crashed browser is relaunched for the next render
}
# Next to the downloader: names each render's browser context and recycles retired ones.
CONTEXTS_ORDER = 950


class BacklinksAddon:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def update_settings(self, settings: BaseSettings) -> None:
        ours = BacklinksSettings.from_settings(settings)
        # The user's own pages, checked in a slot of their own with their own politeness.
        target_slot = {"concurrency": ours.BACKLINKS_TARGET_CONCURRENCY, "delay": ours.BACKLINKS_TARGET_DELAY}
        _derive(settings, "DOWNLOAD_SLOTS", {**settings.getdict("DOWNLOAD_SLOTS"), TARGET_SLOT: target_slot})
        plan = render_plan(self.crawler)
        if plan.browser is None:
            return
        for name, value in PLAYWRIGHT.items():
            settings.set(name, value, priority="addon")
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        for scheme in ("http", "https"):
            handlers.setdefault(scheme, HANDLER)  # unless the project chose one
        _derive(settings, "DOWNLOAD_HANDLERS", handlers)
        # The configured options (-s included) plus executable_path and the flags of
        # crawler.shell.render.browser.LAUNCH_ARGS (no sandbox as root, no GPU, no calls home); the
        # handler adds its guard proxy (crawler.shell.render.proxy).
        options = launch_options(plan.browser, settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"), ours.BACKLINKS_RENDER_JS_HEAP_MB)
        _derive(settings, "PLAYWRIGHT_LAUNCH_OPTIONS", options)
        # Renders run in their own download slot, as many at once as one context holds pages.
        concurrency = ours.BACKLINKS_RENDER_CONCURRENCY
        slots = {**settings.getdict("DOWNLOAD_SLOTS"), RENDER_SLOT: {"concurrency": concurrency, "delay": 0.0}}
        _derive(settings, "DOWNLOAD_SLOTS", slots)
        _derive(settings, "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", concurrency)
        # Launch the browser and the first context when the engine starts, alongside the first static
        # fetches: launched lazily, the launch competed with the flood of static pages for the one
        # event loop and held the first renders back by seconds.
        _derive(settings, "PLAYWRIGHT_CONTEXTS", {ContextLedger.first_name(): dict(CONTEXT_KWARGS)})
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", BrowserContexts, CONTEXTS_ORDER)


def _derive(settings: BaseSettings, name: str, value: Any) -> None:
    """Set a value derived from the configured one (``-s`` included), so it must win over it."""
    settings.set(name, value, priority=max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["addon"]))
