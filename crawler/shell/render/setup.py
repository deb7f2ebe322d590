"""The crawl's render plan: the effective render mode and the browser, decided once per crawl.

The mode is the spider's ``render`` argument, else ``BACKLINKS_RENDER``. Only the spider knows its
arguments, and Scrapy creates the spider before it applies the add-ons, so the spider makes the
plan (:func:`plan_rendering`, from its ``from_crawler``) and the add-on
(:mod:`crawler.shell.addon`) wires Scrapy and scrapy-playwright for it (:func:`render_plan`).

A BACKLINKS_BROWSER_PATH that is not a browser, or ``always`` with no browser found, is an error
naming the setting; ``auto`` with no browser found warns and crawls static HTML only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from scrapy.crawler import Crawler

from crawler.core.render_policy import RenderMode
from crawler.shell.config import BacklinksSettings
from crawler.shell.render.browser import AUTO, BrowserNotFound, find_browser

logger = logging.getLogger(__name__)

# Browser requests queue in their own download slot: a slow render never holds up plain fetches.
RENDER_SLOT = "backlinks-browser"


@dataclass(frozen=True)
class RenderPlan:
    mode: RenderMode
    browser: str | None = None  # the executable to launch; None: no browser, static HTML only
    unavailable: bool = False  # rendering was wanted (auto) but no browser was found


_PLANS: WeakKeyDictionary[Crawler, RenderPlan] = WeakKeyDictionary()


def choose(settings: BacklinksSettings, asked: RenderMode | None) -> RenderPlan:
    mode = asked or settings.BACKLINKS_RENDER
    if mode is RenderMode.NEVER:
        return RenderPlan(mode)
    configured = settings.BACKLINKS_BROWSER_PATH
    try:
        executable = find_browser(configured)
    except BrowserNotFound as exc:
        if mode is RenderMode.ALWAYS or (configured or AUTO).strip().lower() != AUTO:
            raise
        logger.warning("render=auto falls back to static HTML only: %s", exc)
        return RenderPlan(RenderMode.NEVER, unavailable=True)
    logger.info("Rendering: %s with %s", mode.value, executable)
    return RenderPlan(mode, executable)


def plan_rendering(crawler: Crawler, asked: RenderMode | None) -> RenderPlan:
    """Decide the crawl's plan for the ``render`` argument ``asked`` (the spider, once)."""
    plan = _PLANS[crawler] = choose(BacklinksSettings.from_crawler(crawler), asked)
    return plan


def render_plan(crawler: Crawler) -> RenderPlan:
    """The crawl's plan: the spider's, or for a spider without a ``render`` argument, the setting's."""
    plan = _PLANS.get(crawler)
    return plan if plan is not None else plan_rendering(crawler, None)
