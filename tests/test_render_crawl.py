"""Real crawls with a real browser: `scrapy crawl verify` in a child process against the JS web
(tests/support/js_site.py) on 127.0.0.1, with render=never|auto|always.

Marked ``browser``: skipped with the reason when no Chromium is found locally, failed in CI (CI set).
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from sqlalchemy import select

from tests.support.js_site import PAGES, SHOP, TEST_WAIT, JsPage, JsSite
from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.cli.exitcode import ExitCode
from crawler.shell.render.browser import BrowserNotFound
from crawler.core.render_policy import RenderMode
from crawler.shell.render import setup as render_setup
from crawler.shell.spiders.verify import VerifySpider
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Backlink, Check
from pipelines.queries import iter_current

SETTINGS = {
    "BACKLINKS_RENDER_WAIT": str(TEST_WAIT),
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": "3000",
    "BACKLINKS_RENDER_JS_HEAP_MB": "128",  # the memory-eating page crashes its tab quickly
}


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite() as running:
        yield running


def _database(workdir: Path, backlinks: list[tuple[str, str]]) -> str:
    return backlinks_database(workdir, [(referring, target, "exact") for referring, target in backlinks])


def _current(url: str) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = {row["referring_url"]: row for row in iter_current(session)}
    engine.dispose()
    return rows


def _details(url: str) -> dict[str, dict[str, Any]]:
    """The latest check's details (page facts, links) per referring URL."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(Backlink.referring_url, Check.details).join(Check, Check.backlink_id == Backlink.id).order_by(Check.id)
        )
        out = {referring: details for referring, details in rows}
    engine.dispose()
    return out


def _stat(stderr: str, name: str) -> int:
    found = re.search(rf"'{re.escape(name)}': (\d+)", stderr)
    return int(found.group(1)) if found else 0


def _run(url: str, mode: str, settings: dict[str, str] | None = None, exit: ExitCode = ExitCode.OK) -> str:
    # A hung crawl fails its test instead of the whole run.
    result = crawl(url, ["all=1", f"render={mode}"], {**SETTINGS, **(settings or {})}, log_level="INFO", timeout=90)
    assert result.returncode == exit, result.stderr[-4000:]
    return result.stderr


@pytest.fixture(scope="module")
def modes(browser: str, site: JsSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("never", "auto", "always"):
        site.hits.clear()
        url = _database(tmp_path_factory.mktemp(mode), [(site.url(page.path), SHOP) for page in PAGES])
        stderr = _run(url, mode)
        out[mode] = {"rows": _current(url), "hits": dict(site.hits), "stderr": stderr, "details": _details(url)}
    return out


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["never", "auto", "always"])
@pytest.mark.parametrize("page", PAGES, ids=[p.path for p in PAGES])
def test_each_page_per_mode(modes: dict[str, Any], site: JsSite, page: JsPage, mode: str) -> None:
    row = modes[mode]["rows"][site.url(page.path)]
    status, found_in, hidden = page.expect(mode)
    assert (row["status"], row["found_in"], row["hidden"]) == (status, found_in, hidden), page.note


@pytest.mark.browser
def test_failed_renders_say_why(modes: dict[str, Any], site: JsSite) -> None:
    for mode in ("auto", "always"):
        rows = modes[mode]["rows"]
        assert rows[site.url("/loop")]["reason"] == "render_timeout"
        assert rows[site.url("/crash")]["reason"] == "render_crashed"
    # The browser never had the whole HTML, so the page was fetched statically, which timed out too.
    assert modes["always"]["rows"][site.url("/never-ends")]["reason"] == "timeout"


@pytest.mark.browser
@pytest.mark.parametrize(("path", "reason", "redirect"), [
    ("/loop-with-link", "render_timeout", None),
    ("/parse-loop-with-link", "render_timeout", None),
    ("/heap-with-link", "render_crashed", None),
    ("/download-with-link", "render_timeout", None),  # Chromium aborts the navigation; no DOMContentLoaded
    ("/script-redirect-with-link", "render_left_page", "/static-no-link"),
    ("/dead-redirect-with-link", "render_left_page", "chrome-error://chromewebdata/"),
    ("/dead-redirect-js-link", "render_left_page", "chrome-error://chromewebdata/"),
])
def test_a_page_the_render_could_not_judge_keeps_its_own_html(
    modes: dict[str, Any], site: JsSite, path: str, reason: str, redirect: str | None
) -> None:
    # render=always: the link in the page's HTML stays live, with why the render did not count;
    # where a script took the page elsewhere, that is a page fact of the check.
    row = modes["always"]["rows"][site.url(path)]
    assert row["reason"] == reason
    facts = modes["always"]["details"][site.url(path)]["page"]
    if redirect is None:
        assert facts is None or facts["script_redirect"] is None
    else:
        assert facts["script_redirect"].endswith(redirect)


@pytest.mark.browser
def test_auto_renders_only_pages_with_scripts_and_a_static_miss(modes: dict[str, Any]) -> None:
    hits = {path: n for (host, path), n in modes["auto"]["hits"].items() if host == "js.test"}
    for page in PAGES:
        fetched_by = hits.get(page.path, 0)
        # The link in the static HTML, or no script on the page: nothing a render could change.
        static_only = page.never[0] == "live" or page.path in ("/static-no-link", "/never-ends")
        if page.path == "/crash":  # Playwright retries a crashed tab before giving up
            assert fetched_by >= 2
        else:
            assert fetched_by == (1 if static_only else 2), page.path
    assert _stat(modes["never"]["stderr"], "playwright/page_count") == 0  # never: no browser at all
    # ...not even launched: the add-on wired the crawl for the spider's render argument.
    assert _stat(modes["never"]["stderr"], "playwright/browser_count") == 0
    assert _stat(modes["always"]["stderr"], "playwright/browser_count") == 1


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["auto", "always"])
def test_pages_are_reused_or_closed(modes: dict[str, Any], mode: str) -> None:
    # Pages go back to their context's pool after a clean render and are closed after a failed
    # one (timeouts, a loop, a crashed tab and its retry): once the crawl is over, every page
    # still open sits in a pool, where its context's closing closes it.
    stderr = modes[mode]["stderr"]
    assert _stat(stderr, "playwright/page_count") > 0
    assert "'backlinks/render/pages_left_open': 0," in stderr  # counted, and none
    assert _stat(stderr, "backlinks/render/pages_reused") > 0
    # PLAYWRIGHT_MAX_CONTEXTS (2) x BACKLINKS_RENDER_CONCURRENCY (4) pages, at most.
    assert _stat(stderr, "playwright/page_count/max_concurrent") <= 8


@pytest.mark.browser
def test_contexts_are_recycled_and_closed(browser: str, site: JsSite, tmp_path: Path) -> None:
    # Contexts hold two renders each: seven renders retire at least two contexts, which the
    # middleware closes (on Playwright's own loop) once their last render is done.
    pages = [p for p in PAGES if p.path in ("/static", "/after-load", "/app", "/fetched", "/removed",
                                             "/static-no-link", "/hidden/display-none")]
    url = _database(tmp_path, [(site.url(page.path), SHOP) for page in pages])
    stderr = _run(url, "always", {"BACKLINKS_RENDER_CONTEXT_PAGES": "2"})
    assert _stat(stderr, "backlinks/render/contexts_recycled") >= 2
    assert _stat(stderr, "log_count/ERROR") == 0
    rows = _current(url)
    for page in pages:
        row = rows[site.url(page.path)]
        assert (row["status"], row["found_in"]) == page.expect("always")[:2], page.path


@pytest.mark.browser
def test_contexts_retired_between_renders_are_closed(browser: str, site: JsSite, tmp_path: Path) -> None:
    # One request at a time, one render per context: each context is retired when the next render
    # is assigned, with nothing left in flight (as with sparse renders in `auto`). Left open, the
    # third context would wait forever for a free slot (PLAYWRIGHT_MAX_CONTEXTS is 2): a hang.
    pages = [site.url(f"/bench/js/{n}", f"app{n}.test") for n in range(5)]
    url = _database(tmp_path, [(page, f"{SHOP}products/{page.rsplit('/', 1)[1]}") for page in pages])
    stderr = _run(url, "always", {"BACKLINKS_RENDER_CONTEXT_PAGES": "1", "CONCURRENT_REQUESTS": "1"})
    assert _stat(stderr, "backlinks/render/contexts_recycled") == 4
    assert all(row["status"] == "live" for row in _current(url).values())


@pytest.mark.browser
def test_a_tab_crash_on_a_reused_page_is_tried_again_on_a_new_one(browser: str, site: JsSite, tmp_path: Path) -> None:
    # One request at a time: /app renders on a new page and leaves it in the pool; /crash gets that
    # page, crashes it, is tried once more on a new page (a pooled page may have died while idle),
    # crashes that one too and is inconclusive; the pages after it reuse pages again.
    pages = [site.url("/app"), site.url("/crash"), site.url("/after-load", "b.test"), site.url("/fetched", "c.test")]
    url = _database(tmp_path, [(page, SHOP) for page in pages])
    stderr = _run(url, "always", {"CONCURRENT_REQUESTS": "1"})
    rows = _current(url)
    assert [(rows[p]["status"], rows[p]["reason"]) for p in pages] == [
        ("live", None), ("network_error", "render_crashed"), ("live", None), ("live", None)
    ]
    assert _stat(stderr, "backlinks/render/reused_page_failed") == 1
    assert _stat(stderr, "backlinks/render/pages_reused") == 3
    assert "'backlinks/render/pages_left_open': 0," in stderr


@pytest.mark.browser
def test_a_pooled_page_unused_for_a_while_is_closed(browser: str, site: JsSite, tmp_path: Path) -> None:
    # /app renders within a second and leaves its page in the pool; the crawl then waits ~3 s for
    # /never-ends to time out, and with BACKLINKS_RENDER_PAGE_IDLE=0.2 the idle page is closed.
    pages = [site.url("/app"), site.url("/never-ends", "slow.test")]
    url = _database(tmp_path, [(page, SHOP) for page in pages])
    stderr = _run(url, "auto", {"BACKLINKS_RENDER_PAGE_IDLE": "0.2"})
    rows = _current(url)
    assert [rows[p]["status"] for p in pages] == ["live", "timeout"]
    assert _stat(stderr, "backlinks/render/idle_pages_closed") == 1
    assert "'backlinks/render/pages_left_open': 0," in stderr


@pytest.mark.browser
def test_a_browser_that_does_not_start_leaves_pages_to_their_static_html(browser: str, site: JsSite, tmp_path: Path) -> None:
    # The launch runs beside the first fetches; when it fails, each render fails on its own and
    # the page is fetched statically instead: a link in the HTML is live (the failure recorded),
    # a miss on a page with scripts is inconclusive, never a lost link, and the crawl finishes.
    pages = [site.url("/app"), site.url("/static")]
    url = _database(tmp_path, [(page, SHOP) for page in pages])
    stderr = _run(url, "always", {"BACKLINKS_BROWSER_PATH": "/bin/false"})
    assert "The browser did not start" in stderr
    rows = _current(url)
    assert [(rows[p]["status"], rows[p]["reason"]) for p in pages] == [
        ("network_error", "render_launch_failed"), ("live", "render_launch_failed")
    ]
    assert [rows[p]["found_in"] for p in pages] == [None, "raw"]
    assert _stat(stderr, "backlinks/render/static_fallback") == 2


@pytest.mark.browser
def test_auto_skips_static_sites_and_remembers_js_domains(browser: str, site: JsSite, tmp_path: Path) -> None:
    static = [site.url(f"/bench/static/{n}", f"news{n}.test") for n in range(10)]
    js = [site.url(f"/bench/js/{n}", f"app{n}.test") for n in range(4)]
    # A server-rendered page on a domain with one other page, which needs the browser: 1 of 2.
    neighbour = site.url("/bench/static/99", "app0.test")
    # A domain where 2 of 3 checked pages need the browser: the third goes there too.
    mostly_js = [site.url("/bench/js/50", "a.mostly.test"), site.url("/bench/js/51", "b.mostly.test")]
    mostly_static = site.url("/bench/static/52", "c.mostly.test")
    pages = static + js + [neighbour] + mostly_js + [mostly_static]
    url = _database(tmp_path, [(page, f"{SHOP}products/{page.rsplit('/', 1)[1]}") for page in pages])

    def hits(page: str) -> int:
        host, path = page.split("//", 1)[1].split("/", 1)
        return site.hits[(host.split(":")[0], "/" + path)]

    site.hits.clear()
    stderr = _run(url, "auto")
    rows = _current(url)
    server_rendered = static + [neighbour, mostly_static]
    assert all(rows[p]["status"] == "live" and rows[p]["found_in"] == "raw" for p in server_rendered)
    assert all(rows[p]["status"] == "live" and rows[p]["found_in"] == "rendered" for p in js + mostly_js)
    assert [hits(p) for p in server_rendered] == [1] * 12  # no static page went to the browser
    assert [hits(p) for p in js + mostly_js] == [2] * 6  # static first, then one render each
    assert _stat(stderr, "backlinks/render/pages") == 6

    site.hits.clear()
    stderr = _run(url, "auto")
    rows = _current(url)
    # app1-app3.test and mostly.test: most of their checked pages needed it; app0.test: 1 of 2.
    assert "Render memory: 6 pages and 4 domains go straight to the browser" in stderr
    assert [hits(p) for p in js + mostly_js] == [1] * 6  # remembered: straight to the browser
    assert _stat(stderr, "backlinks/render/reason/remembered_page") == 6
    # Only the domain where most checked pages needed the browser is rendered whole.
    assert _stat(stderr, "backlinks/render/reason/remembered_domain") == 1
    assert (rows[mostly_static]["found_in"], rows[mostly_static]["hidden"]) == ("both", False)
    assert rows[neighbour]["found_in"] == "raw" and hits(neighbour) == 1
    assert all(rows[p]["found_in"] == "rendered" for p in js)  # raw view from the same browser visit
    assert [hits(p) for p in static] == [1] * 10


def _kill_browser_with(marker: str) -> None:
    """Kill the browser whose command line carries ``marker``: only the one this test's crawl started."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv and not any(arg.startswith(b"--type=") for arg in argv):
            os.kill(int(proc.name), signal.SIGKILL)


@pytest.mark.browser
def test_crawl_survives_a_browser_crash(browser: str, site: JsSite, tmp_path: Path) -> None:
    marker = f"--backlinks-test={uuid.uuid4().hex}"
    site.on_kill_browser(lambda: _kill_browser_with(marker))
    pages = [site.url("/kill-browser"), site.url("/after-load", "other.test"), site.url("/static", "third.test")]
    url = _database(tmp_path, [(page, SHOP) for page in pages])
    stderr = _run(url, "always", {"PLAYWRIGHT_LAUNCH_OPTIONS": f'{{"args": ["{marker}"]}}', "BACKLINKS_RENDER_CONCURRENCY": "1"})
    rows = _current(url)
    assert _stat(stderr, "playwright/browser_count") == 2  # relaunched after the kill
    assert [rows[p]["status"] for p in pages] == ["live", "live", "live"]
    assert rows[pages[0]]["found_in"] == "rendered"
    # The page that died with the browser left no page behind in the new one.
    assert "'backlinks/render/pages_left_open': 0," in stderr


def test_always_without_a_browser_is_a_clear_error(site: JsSite, tmp_path: Path) -> None:
    url = _database(tmp_path, [(site.url("/static"), SHOP)])
    result = crawl(url, ["render=always"], {"BACKLINKS_BROWSER_PATH": str(tmp_path / "no-chromium")})
    assert result.returncode != 0
    assert "BACKLINKS_BROWSER_PATH=" in result.stderr and "not an executable browser" in result.stderr


def test_a_bad_browser_path_fails_fast_even_in_auto(site: JsSite, tmp_path: Path) -> None:
    url = _database(tmp_path, [(site.url("/static"), SHOP)])
    result = crawl(url, [], {"BACKLINKS_BROWSER_PATH": str(tmp_path / "no-chromium")})
    assert result.returncode != 0 and "BACKLINKS_BROWSER_PATH=" in result.stderr


@pytest.mark.parametrize(("mode", "fails"), [("auto", False), ("always", True), ("never", False)])
def test_no_browser_found(mode: str, fails: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(configured: str | None) -> str:
        raise BrowserNotFound("no browser found for JavaScript rendering (BACKLINKS_BROWSER_PATH=auto ...)")

    monkeypatch.setattr(render_setup, "find_browser", nothing)
    values = {**settings_module_values(), "BACKLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"}
    crawler = Crawler(VerifySpider, values)  # settings not frozen yet, as in a real crawl
    if fails:
        with pytest.raises(BrowserNotFound, match="BACKLINKS_BROWSER_PATH"):
            VerifySpider.from_crawler(crawler, render=mode)
        return
    spider = VerifySpider.from_crawler(crawler, render=mode)
    assert spider.render_mode is RenderMode.NEVER and spider.run_arguments["render"] == "never"
    assert spider.render_unavailable is (mode == "auto")
    crawler.addons.load_settings(crawler.settings)  # as Scrapy does once the spider exists
    # No browser: the plain HTTP handler takes every request and no Playwright driver starts.
    assert "scrapy_playwright" not in str(crawler.settings.getdict("DOWNLOAD_HANDLERS"))
    assert crawler.settings.getdict("DOWNLOAD_HANDLERS") == {}  # Scrapy's own, DOWNLOAD_HANDLERS_BASE
    assert "crawler.shell.render.middleware.BrowserContexts" not in str(crawler.settings.getdict("DOWNLOADER_MIDDLEWARES"))


def settings_module_values() -> dict[str, Any]:
    import settings

    return {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
