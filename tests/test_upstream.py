"""What crawler/shell/upstream.py (and ProductTokenRobots) rely on in Scrapy, scrapy-playwright and Protego.

Each test fails when upstream changes: a private method we override or call is renamed or takes
other parameters, a behaviour we work around is fixed (the message says which override can go),
or an installed version leaves the range pyproject.toml says was tested.
"""

from __future__ import annotations

import asyncio
import inspect
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from pebble.pool.process import PoolManager, WorkerManager
from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.core.downloader import Downloader
from scrapy.downloadermiddlewares.redirect import BaseRedirectMiddleware
from scrapy.http import Response
from scrapy.pqueues import DownloaderAwarePriorityQueue, DownloaderInterface
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f, maybe_deferred_to_future
from scrapy.utils.test import get_crawler
from scrapy_playwright.handler import Config, ScrapyPlaywrightDownloadHandler, TargetClosedError
from scrapy_playwright.page import PageMethod

from crawler.core.robotstxt import ProductTokenRobots
from crawler.shell import upstream
from crawler.shell.upstream import PlaywrightHandlerHooks, SlotKeepingDownloader, SlotRankingQueue

ROOT = Path(__file__).resolve().parents[1]
BOUNDED = ("scrapy", "scrapy-playwright", "protego", "pebble")


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {(req := Requirement(line)).name.lower(): req for line in project["dependencies"]}


@pytest.mark.parametrize("name", BOUNDED)
def test_the_installed_version_is_one_the_overrides_were_tested_with(name: str) -> None:
    specifier = _requirements()[name].specifier
    assert any(spec.operator == "<" for spec in specifier), f"{name} needs an upper bound in pyproject.toml"
    assert specifier.contains(version(name)), (
        f"{name} {version(name)} is outside {specifier}: check crawler/shell/upstream.py against it, "
        "then move the bound"
    )


# --- Every private method overridden still exists upstream, with the parameters we override ------


def _parameters(function: Callable[..., Any]) -> list[tuple[str, Any, bool]]:
    return [(p.name, p.kind, p.default is p.empty) for p in inspect.signature(function).parameters.values()]


def _overrides() -> list[tuple[type, str]]:
    """Each private (single underscore) method a class of ours defines over an upstream class."""
    ours = [cls for _, cls in inspect.getmembers(upstream, inspect.isclass) if cls.__module__ == upstream.__name__]
    return [
        (cls, name)
        for cls in [*ours, ProductTokenRobots]
        for name, member in vars(cls).items()
        if name.startswith("_") and not name.startswith("__") and callable(member)
    ]


def test_the_overrides_are_found() -> None:
    # The test below must not pass by finding nothing.
    assert {(cls.__name__, name) for cls, name in _overrides()} >= {
        ("SlotKeepingDownloader", "_get_slot"),
        ("PlaywrightHandlerHooks", "_download_request"),
        ("PlaywrightHandlerHooks", "_create_page"),
        ("PlaywrightHandlerHooks", "_apply_page_methods"),
        ("PlaywrightHandlerHooks", "_maybe_launch_in_thread"),
        ("PlaywrightHandlerHooks", "_close"),
        ("ProductTokenRobots", "_get_matching_rule_set"),
    }


@pytest.mark.parametrize(("cls", "name"), _overrides(), ids=lambda value: getattr(value, "__name__", value))
def test_an_overridden_private_method_is_still_there_with_our_parameters(cls: type, name: str) -> None:
    base = next((klass for klass in cls.__mro__[1:] if name in vars(klass)), None)
    assert base is not None, f"{cls.__name__}.{name} overrides nothing upstream any more"
    assert _parameters(getattr(base, name)) == _parameters(getattr(cls, name)), (
        f"{base.__module__}.{base.__qualname__}.{name} takes {inspect.signature(getattr(base, name))}, "
        f"our override {inspect.signature(getattr(cls, name))}"
    )


@pytest.mark.parametrize(
    ("owner", "name", "parameters"),
    [
        # called by PlaywrightHandlerHooks
        (ScrapyPlaywrightDownloadHandler, "_launch", ["self"]),
        (ScrapyPlaywrightDownloadHandler, "_maybe_future_from_coro", ["self", "coro"]),
        # called by RefreshRedirects
        (BaseRedirectMiddleware, "_redirect_request_using_get", ["self", "request", "response", "redirect_url"]),
        (BaseRedirectMiddleware, "_redirect", ["self", "redirected", "request", "reason"]),
        # called by stop_process_pool
        (WorkerManager, "force_stop_workers", ["self"]),
    ],
)
def test_a_private_method_called_is_still_there(owner: type, name: str, parameters: list[str]) -> None:
    assert list(inspect.signature(getattr(owner, name)).parameters) == parameters


# --- Scrapy's downloader: the slot fix ------------------------------------------------------------


class _CountingHandler:
    """A download handler that answers after a moment, counting the downloads in progress."""

    lazy = False
    in_progress = most = 0

    def __init__(self, crawler: Any) -> None:
        pass

    @classmethod
    def from_crawler(cls, crawler: Any) -> _CountingHandler:
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        cls = type(self)
        cls.in_progress += 1
        cls.most = max(cls.most, cls.in_progress)
        try:
            await asyncio.sleep(0.05)
        finally:
            cls.in_progress -= 1
        return Response(request.url, request=request)

    async def close(self) -> None:
        pass


async def _most_at_once(downloader_class: type[Downloader], requests: int = 6) -> int:
    """The most downloads at once to one host whose slot allows one, with ``downloader_class``."""
    _CountingHandler.in_progress = _CountingHandler.most = 0
    crawler = get_crawler(Spider, {
        "DOWNLOAD_HANDLERS": {"http": _CountingHandler},
        "DOWNLOADER_MIDDLEWARES_BASE": {},
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 0,
    })
    crawler.spider = Spider("upstream")
    downloader = downloader_class(crawler)
    try:
        fetches = [maybe_deferred_to_future(downloader.fetch(Request(f"http://one.test/{n}"))) for n in range(requests)]
        await asyncio.gather(*fetches)
    finally:
        downloader.close()
    return _CountingHandler.most


@deferred_f_from_coro_f
async def test_scrapys_own_downloader_still_loses_a_slots_concurrency() -> None:
    assert await _most_at_once(Downloader) > 1, (
        "Scrapy's own downloader now keeps a slot's concurrency (https://github.com/scrapy/scrapy/issues/6982): "
        "the patch can go: remove SlotKeepingDownloader (crawler/shell/upstream.py) and the DOWNLOADER setting"
    )


@deferred_f_from_coro_f
async def test_ours_keeps_it() -> None:
    assert await _most_at_once(SlotKeepingDownloader) == 1


# --- Scrapy's DownloaderAwarePriorityQueue: ranked through its downloader interface ---------------


def test_the_queue_still_ranks_slots_through_its_downloader_interface() -> None:
    # SlotRankingQueue replaces the attribute; pop() and peek() must still read it.
    assert "self._downloader_interface.stats(" in inspect.getsource(DownloaderAwarePriorityQueue.pop)
    assert "self._downloader_interface.stats(" in inspect.getsource(DownloaderAwarePriorityQueue.peek)
    assert list(inspect.signature(DownloaderInterface.stats).parameters) == ["self", "possible_slots"]
    assert issubclass(SlotRankingQueue, DownloaderAwarePriorityQueue)


# --- scrapy-playwright's handler ------------------------------------------------------------------


class _Hooks(PlaywrightHandlerHooks):
    launched_on_engine_start = False

    async def launch_on_engine_start(self) -> None:
        self.launched_on_engine_start = True


def _handler(settings: dict[str, Any] | None = None) -> _Hooks:
    return _Hooks(get_crawler(Spider, settings))


@deferred_f_from_coro_f
async def test_scrapy_playwright_still_launches_on_engine_started() -> None:
    handler = _handler()
    await handler._crawler.signals.send_catch_log_async(signals.engine_started)
    assert handler.launched_on_engine_start


class _FakePage:
    """What ``_apply_page_methods`` asks of a page."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def evaluate(self, script: str) -> None:
        self.calls.append("evaluate")

    async def wait_for_load_state(self, **kwargs: Any) -> None:
        self.calls.append("wait_for_load_state")


@deferred_f_from_coro_f
async def test_scrapy_playwright_still_waits_for_the_load_event_after_a_page_method() -> None:
    page = _FakePage()
    request = Request("http://one.test/", meta={"playwright_page_methods": [PageMethod("evaluate", "1")]})
    await _handler().after_navigation(page, request, None)  # upstream's own step
    assert page.calls == ["evaluate", "wait_for_load_state"], (
        "scrapy-playwright no longer waits for the load event after each page method: the probe could "
        "be a PageMethod, and SharedPlaywrightHandler.after_navigation's override could go"
    )


class _ClosingTab:
    """A page whose tab closes as soon as it navigates."""

    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    def on(self, event: str, handler: Any) -> None:
        pass

    remove_listener = on

    async def route(self, url: str, handler: Any) -> None:
        pass

    async def goto(self, url: str, **kwargs: Any) -> None:
        raise TargetClosedError()

    async def close(self) -> None:
        self.closed = True


class _NewTabs(_Hooks):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.pages: list[_ClosingTab] = []

    async def new_page(self, request: Any, spider: Any) -> Any:
        self.pages.append(_ClosingTab())
        return self.pages[-1]


@deferred_f_from_coro_f
async def test_scrapy_playwright_still_leaves_the_pages_of_its_retries_open_with_include_page() -> None:
    # What SharedPlaywrightHandler._attempt cleans up after: a render that keeps its page
    # (playwright_include_page) and whose tab closes is retried on new pages, none of them closed.
    handler = _NewTabs(get_crawler(Spider))
    request = Request("http://one.test/", meta={"playwright": True, "playwright_include_page": True})
    with pytest.raises(TargetClosedError):
        await handler.render(request, None)  # upstream's own step
    assert len(handler.pages) == 1 + handler.config.target_closed_max_retries
    assert not any(page.closed for page in handler.pages), (
        "scrapy-playwright now closes the pages of its retries: SharedPlaywrightHandler._attempt need not"
    )
    assert request.meta["playwright_page"] is handler.pages[-1]


def test_the_threaded_loop_is_still_turned_on_by_its_private_setting() -> None:
    assert Config.from_settings(Settings({"_PLAYWRIGHT_THREADED_LOOP": True})).use_threaded_loop
    assert not Config.from_settings(Settings({})).use_threaded_loop


# --- Protego: group selection -----------------------------------------------------------------------


def test_protego_still_selects_groups_by_a_word_of_the_user_agent() -> None:
    # What ProductTokenRobots replaces (RFC 9309 wants the group naming the product token). If this
    # fails, Protego now matches product tokens (https://github.com/scrapy/protego/issues/65):
    # its override in crawler/core/robotstxt.py may go.
    assert not Protego.parse("User-agent: backlinks\nDisallow: /\n").can_fetch("http://site.test/", "BacklinksVerify")
    assert ProductTokenRobots.parse("User-agent: backlinks\nDisallow: /\n").can_fetch("http://site.test/", "BacklinksVerify")
    # The attribute the override reads: tests/test_robots.py::test_protego_still_has_what_the_override_reads


# --- Pebble: the pool's workers stopped before its channel ------------------------------------------


def test_pebble_still_closes_the_channel_before_it_stops_the_workers() -> None:
    """When Pebble stops the workers first, stop_process_pool can go (ProcessPool.join is enough)."""
    steps = inspect.getsource(PoolManager.stop)
    assert steps.index("close_channels") < steps.index("force_stop_workers"), "fixed upstream: stop_process_pool can go"

