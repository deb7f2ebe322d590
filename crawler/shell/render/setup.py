"""Choosing the effective render mode for a crawl and configuring scrapy-playwright for it.

Runs from the spider's ``from_crawler``, before the settings freeze. A BACKLINKS_BROWSER_PATH that
is not a browser, or ``always`` with no browser found, is an error naming the setting; ``auto``
with no browser found warns and crawls static HTML only.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES, Settings

from crawler.shell.render.browser import BrowserNotFound, find_browser, launch_options
from crawler.shell.render.middleware import CONTEXT_KWARGS, ContextLedger
from crawler.core.render_policy import RenderMode

logger = logging.getLogger(__name__)

# Browser requests queue in their own download slot: a slow render never holds up plain fetches.
RENDER_SLOT = "backlinks-browser"
PLAYWRIGHT_HANDLERS = (
    "crawler.shell.render.handler.SharedPlaywrightHandler",
    "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
)
PLAIN_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


def configure_rendering(settings: Settings, asked: RenderMode | None) -> tuple[RenderMode, bool]:
    """The effective render mode, and whether rendering was wanted but no browser was found."""
    mode = asked or RenderMode(settings.get("BACKLINKS_RENDER", RenderMode.AUTO.value))
    unavailable = False
    if mode is not RenderMode.NEVER:
        configured = settings.get("BACKLINKS_BROWSER_PATH")
        try:
            executable = find_browser(configured)
        except BrowserNotFound as exc:
            if mode is RenderMode.ALWAYS or (configured or "auto").strip().lower() != "auto":
                raise
            logger.warning("render=auto falls back to static HTML only: %s", exc)
            unavailable, mode = True, RenderMode.NEVER
        else:
            _use_browser(settings, executable)
            logger.info("Rendering: %s with %s", mode.value, executable)
    if mode is RenderMode.NEVER:
        # No browser: plain requests need no Playwright driver process at all.
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        for scheme, handler in list(handlers.items()):
            if handler in PLAYWRIGHT_HANDLERS:
                handlers[scheme] = PLAIN_HANDLER
        _override(settings, "DOWNLOAD_HANDLERS", handlers)
        _override(settings, "BACKLINKS_RENDER_ENABLED", False)
    return mode, unavailable


def _use_browser(settings: Settings, executable: str) -> None:
    options = launch_options(
        executable, settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"), settings.getint("BACKLINKS_RENDER_JS_HEAP_MB")
    )
    _override(settings, "PLAYWRIGHT_LAUNCH_OPTIONS", options)
    # Renders run in their own download slot, as many at once as one context holds pages.
    concurrency = settings.getint("BACKLINKS_RENDER_CONCURRENCY")
    slots = {**settings.getdict("DOWNLOAD_SLOTS"), RENDER_SLOT: {"concurrency": concurrency, "delay": 0.0}}
    _override(settings, "DOWNLOAD_SLOTS", slots)
    _override(settings, "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", concurrency)
    # Launch the browser and the first context when the engine starts, alongside the first static
    # fetches: launched lazily, the launch competed with the flood of static pages for the one
    # event loop and held the first renders back by seconds.
    _override(settings, "PLAYWRIGHT_CONTEXTS", {ContextLedger.first_name(): dict(CONTEXT_KWARGS)})


def _override(settings: Settings, name: str, value: Any) -> None:
    """Set a value derived from the configured one (``-s`` included), so it must win over it."""
    settings.set(name, value, priority=max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["spider"]))
