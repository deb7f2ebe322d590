"""Rendering decisions, merging and browser configuration: pure, no browser needed."""

from __future__ import annotations


import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import parsel
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.exceptions import DownloadTimeoutError

from crawler.shell.args import VerifyArgs
from crawler.core.extract.links import HIDDEN_ATTR, scan_links
from crawler.core.items import DueBacklink, LinkRecord, Observation, PageFacts
from crawler.core.observe import Fetched, merge_failed_render, merge_rendered, observe_page
from crawler.core.outcome import Status
from crawler.shell.render.browser import (
    HEADLESS_SHELL,
    BrowserNotFound,
    abort_request,
    classify_render_failure,
    find_browser,
    launch_options,
)
from crawler.shell.render.middleware import ContextLedger
from crawler.core.render_policy import (
    RenderMemory,
    RenderMode,
    RenderReason,
    client_side_signals,
    needed_render,
    render_after_static,
    render_first,
    runs_scripts,
)
from crawler.shell.render.probe import RenderProbe, target_hosts

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
PAGE = "https://blog.example.org/post"
SHOP = "https://www.shop.example.com/"
TEXT = "<p>" + "A long server-rendered paragraph about widgets and the shops that sell them. " * 5 + "</p>"


def _doc(body: str, head: str = "") -> str:
    return f"<html><head><title>t</title>{head}</head><body>{body}</body></html>"


# --- Signs of client-side rendering -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "signals"),
    [
        (_doc(TEXT), ()),  # no script at all
        (_doc(TEXT + "<script>dataLayer.push({a: 1})</script>"), ()),  # analytics on a real page
        (_doc(TEXT + "<script>var s=document.createElement('script');s.src='/ga.js'</script>"), ()),
        (_doc('<div id="root"></div><script src="/main.js"></script>'), ("empty_app_root", "little_text")),
        (_doc('<div id="__next">Loading…</div><script src="/_next/app.js"></script>'), ("empty_app_root", "little_text")),
        (_doc('<app-root ng-version="17"></app-root><script src="/main.js"></script>'), ("empty_app_root", "little_text")),
        (
            _doc(TEXT + "<noscript>Please enable JavaScript to view this site.</noscript><script src=/a.js></script>"),
            ("noscript_fallback",),
        ),
        (_doc(TEXT + '<noscript><img src="/pixel.gif"></noscript><script src=/a.js></script>'), ()),
        (_doc("<p>Hi</p><script src=/a.js></script>"), ("little_text",)),
        (_doc(TEXT + "<div id=x></div><script>document.getElementById('x').innerHTML = '<a href=/>x</a>'</script>"),
         ("script_built_body",)),
        (_doc(TEXT + '<script type="module" src="/app.mjs"></script>'), ("script_built_body",)),
        (_doc('<div id="root"></div><script type="application/ld+json">{}</script>'), ()),  # data, not code
    ],
)
def test_client_side_signals(html: str, signals: tuple[str, ...]) -> None:
    assert client_side_signals(html) == signals


@pytest.mark.parametrize(
    ("html", "runs"),
    [
        ("<p>no scripts</p>", False),
        ("<SCRIPT>x()</SCRIPT>", True),
        ('<script type="text/javascript" src=a.js></script>', True),
        ('<script type="module">import "x"</script>', True),
        ('<script type="application/ld+json">{}</script><script type="text/template"><a></a></script>', False),
        ("<p>talks about &lt;script&gt; tags</p>", False),
    ],
)
def test_runs_scripts(html: str, runs: bool) -> None:
    assert runs_scripts(html) is runs


# --- When to render ---------------------------------------------------------------------------------

MEMORY = RenderMemory(pages=frozenset({"https://a.test/app"}), domains=frozenset({"spa.test"}))


@pytest.mark.parametrize(
    ("mode", "key", "domain", "reason"),
    [
        (RenderMode.NEVER, "https://a.test/app", "spa.test", None),
        (RenderMode.ALWAYS, "https://b.test/", "b.test", RenderReason.ALWAYS),
        (RenderMode.AUTO, "https://a.test/app", "a.test", RenderReason.REMEMBERED_PAGE),
        (RenderMode.AUTO, "https://www.spa.test/x", "spa.test", RenderReason.REMEMBERED_DOMAIN),
        (RenderMode.AUTO, "https://a.test/other", "a.test", None),
    ],
)
def test_render_first(mode: RenderMode, key: str, domain: str, reason: RenderReason | None) -> None:
    assert render_first(mode, MEMORY, key, domain) is reason


def _obs(status: Status, http_status: int = 200, found_in: str | None = None, bid: int = 1, **kw: object) -> Observation:
    live = status is Status.LIVE
    page = None if status.inconclusive else PageFacts(url=PAGE, final_url=PAGE, http_status=http_status)
    links = [LinkRecord(href=SHOP, url=SHOP, tag="a", hidden=kw.pop("hidden", None))] if live else []  # type: ignore[arg-type]
    return Observation(
        backlink_id=bid, referring_url=PAGE, target_url=SHOP, checked_at=AT, status=status,
        reason=None if live else "link_removed", page=page, links=links,
        found_in=found_in if live else None, **kw,  # type: ignore[arg-type]
    )


SPA = _doc('<div id="root"></div><script src="/main.js"></script>')
SCRIPTED = _doc(TEXT + "<script>dataLayer.push({})</script>")
STATIC = _doc(TEXT)


@pytest.mark.parametrize(
    ("observations", "html", "confirm", "reason"),
    [
        ([_obs(Status.LIVE, found_in="raw")], SPA, True, None),  # found statically: nothing to gain
        ([_obs(Status.MISSING_UNCONFIRMED)], STATIC, True, None),  # no script can add a link
        ([_obs(Status.MISSING_UNCONFIRMED)], SPA, True, RenderReason.CLIENT_SIDE),
        ([_obs(Status.MISSING_UNCONFIRMED)], SPA, False, RenderReason.CLIENT_SIDE),
        ([_obs(Status.MISSING_UNCONFIRMED)], SCRIPTED, True, RenderReason.CONFIRM_MISS),
        ([_obs(Status.MISSING_UNCONFIRMED)], SCRIPTED, False, None),
        ([_obs(Status.LIVE, found_in="raw"), _obs(Status.MISSING_UNCONFIRMED, bid=2)], SCRIPTED, True,
         RenderReason.CONFIRM_MISS),  # one of the page's backlinks is missing
        ([_obs(Status.MISSING_UNCONFIRMED, http_status=404)], SPA, True, None),  # a 404 is a 404
        ([_obs(Status.TIMEOUT)], SPA, True, None),  # could not read the page at all
        ([_obs(Status.MISSING_UNCONFIRMED)], None, True, None),  # not text
    ],
)
def test_render_after_static(observations: list[Observation], html: str | None, confirm: bool,
                             reason: RenderReason | None) -> None:
    assert render_after_static(observations, html, confirm_misses=confirm) is reason


def test_needed_render_means_found_only_after_rendering() -> None:
    assert needed_render([_obs(Status.LIVE, found_in="rendered")])
    assert not needed_render([_obs(Status.LIVE, found_in="both"), _obs(Status.LIVE, found_in="raw")])
    assert not needed_render([_obs(Status.MISSING_UNCONFIRMED)])


# --- Raw + rendered -> one observation per backlink ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rendered", "status", "found_in"),
    [
        (Status.LIVE, Status.LIVE, Status.LIVE, "both"),
        (Status.MISSING_UNCONFIRMED, Status.LIVE, Status.LIVE, "rendered"),
        (Status.LIVE, Status.MISSING_UNCONFIRMED, Status.LIVE, "raw"),  # a script removed it
        (Status.MISSING_UNCONFIRMED, Status.MISSING_UNCONFIRMED, Status.MISSING_UNCONFIRMED, None),  # confirmed
        (Status.LIVE, Status.BLOCKED_BOT, Status.LIVE, "raw"),  # the browser was challenged
        (Status.MISSING_UNCONFIRMED, Status.BLOCKED_BOT, Status.BLOCKED_BOT, None),  # not confirmed
        (Status.BLOCKED_BOT, Status.LIVE, Status.LIVE, "rendered"),
        (None, Status.LIVE, Status.LIVE, "rendered"),  # raw view unknown
    ],
)
def test_merge_rendered(raw: Status | None, rendered: Status, status: Status, found_in: str | None) -> None:
    raw_obs = None if raw is None else [_obs(raw, found_in="raw")]
    (merged,) = merge_rendered(raw_obs, [_obs(rendered, found_in="rendered", hidden=True)])
    assert (merged.status, merged.found_in) == (status, found_in)
    if found_in in ("both", "rendered"):
        assert merged.links[0].hidden is True  # the rendered links carry the hidden flag


def test_merge_keeps_each_backlink_apart() -> None:
    raw = [_obs(Status.LIVE, found_in="raw", bid=1), _obs(Status.MISSING_UNCONFIRMED, bid=2)]
    rendered = [_obs(Status.LIVE, found_in="rendered", bid=1), _obs(Status.LIVE, found_in="rendered", bid=2)]
    assert [(o.backlink_id, o.found_in) for o in merge_rendered(raw, rendered)] == [(1, "both"), (2, "rendered")]


@pytest.mark.parametrize(
    ("raw", "scripted", "status", "reason", "found_in"),
    [
        # The static view stands: the link in the HTML is live, with the render's failure recorded.
        (Status.LIVE, True, Status.LIVE, "render_timeout", "raw"),
        (Status.LIVE, False, Status.LIVE, "render_timeout", "raw"),
        # A miss the render was to confirm is not confirmed: the render's inconclusive status.
        (Status.MISSING_UNCONFIRMED, True, Status.TIMEOUT, "render_timeout", None),
        # No script could insert the link: the static miss stands.
        (Status.MISSING_UNCONFIRMED, False, Status.MISSING_UNCONFIRMED, "link_removed", None),
        # Inconclusive in the static view already: stays as it was.
        (Status.BLOCKED_BOT, True, Status.BLOCKED_BOT, "403", None),
    ],
)
def test_failed_render_keeps_the_static_view(
    raw: Status, scripted: bool, status: Status, reason: str, found_in: str | None
) -> None:
    seen = _obs(raw, found_in="raw" if raw is Status.LIVE else None)
    if raw is Status.MISSING_UNCONFIRMED:
        seen = seen.model_copy(update={"reason": "link_removed"})
    elif raw is Status.BLOCKED_BOT:
        seen = seen.model_copy(update={"reason": "403"})
    (merged,) = merge_failed_render([seen], Status.TIMEOUT, "render_timeout", AT, scripted=scripted)
    assert (merged.status, merged.reason, merged.found_in) == (status, reason, found_in)


def test_a_render_that_left_the_page_is_a_page_fact() -> None:
    raw = [_obs(Status.LIVE, found_in="raw", bid=1), _obs(Status.MISSING_UNCONFIRMED, bid=2)]
    merged = merge_failed_render(raw, Status.NETWORK_ERROR, "render_left_page", AT, script_redirect="https://consent.example/")
    assert [(o.status, o.reason) for o in merged] == [
        (Status.LIVE, "render_left_page"), (Status.NETWORK_ERROR, "render_left_page")
    ]
    assert all(o.page is not None and o.page.script_redirect == "https://consent.example/" for o in merged)


# --- Did the render stay on the page? ---------------------------------------------------------------------


def _probe(document: str | None, chain: tuple[str, ...] = (), navigated_to: str | None = None) -> RenderProbe:
    probe = RenderProbe(("shop.example.com",), 1000)
    probe.document_url, probe.redirect_chain, probe.navigated_to = document, chain, navigated_to
    return probe


@pytest.mark.parametrize(
    ("probe", "final", "own", "left"),
    [
        (_probe(PAGE), PAGE, [PAGE], None),
        (_probe(PAGE), PAGE + "#top", [PAGE], None),  # a fragment is the same document
        (_probe(PAGE), PAGE + "/page/2", [PAGE], None),  # pushState: no new document was requested
        (_probe(PAGE, navigated_to=PAGE), PAGE, [PAGE], None),  # location.reload()
        (_probe(PAGE + "/", ("http://blog.example.org/post",)), PAGE + "/", ["http://blog.example.org/post"], None),
        # The static fetch's redirect chain ended where the browser ended: the page.
        (_probe(PAGE, navigated_to="https://m.example.org/"), "https://m.example.org/", [PAGE, "https://m.example.org/"], None),
        # A script redirect, a consent wall, force-https: not the page.
        (_probe(PAGE, navigated_to="https://consent.example/"), "https://consent.example/", [PAGE], "https://consent.example/"),
        (_probe("http://blog.example.org/post", navigated_to=PAGE), PAGE, ["http://blog.example.org/post"], PAGE),
        # Chromium's error page never is.
        (_probe(PAGE, navigated_to="http://dead.example/"), "chrome-error://chromewebdata/", [PAGE], "chrome-error://chromewebdata/"),
        (_probe(None), "chrome-error://chromewebdata/", [PAGE], "chrome-error://chromewebdata/"),
    ],
)
def test_left_page(probe: RenderProbe, final: str, own: list[str], left: str | None) -> None:
    assert probe.left_page(final, own) == left


def test_observe_page_reads_hidden_marks_only_when_rendered() -> None:
    html = _doc(f'<p><a {HIDDEN_ATTR}="1" href="{SHOP}">shop</a> <a {HIDDEN_ATTR}="0" href="{SHOP}x">x</a></p>')
    fetched = Fetched(url=PAGE, final_url=PAGE, http_status=200, headers={"content-type": ["text/html"]},
                      body=html.encode(), text=html)
    backlink = DueBacklink(id=1, target_url=SHOP)
    (rendered,) = observe_page([backlink], fetched, AT, rendered=True)
    assert rendered.found_in == "rendered" and [link.hidden for link in rendered.links] == [True]
    assert HIDDEN_ATTR not in rendered.links[0].snippet
    (raw,) = observe_page([backlink], fetched, AT)
    assert raw.found_in == "raw" and raw.links[0].hidden is None


def test_scan_links_hidden_attr() -> None:
    sel = parsel.Selector(text=f'<a href="/a" {HIDDEN_ATTR}="0">a</a><a href="/b">b</a><a href="/c" {HIDDEN_ATTR}="1">c</a>')
    links = scan_links(sel, PAGE, hidden_attr=HIDDEN_ATTR).links
    assert [link.hidden for link in links] == [False, None, True]


# --- Browser configuration -----------------------------------------------------------------------------


def test_find_browser_prefers_headless_shell(tmp_path: Path) -> None:
    usable = {HEADLESS_SHELL, "/usr/bin/chromium"}
    assert find_browser("auto", which=lambda name: "/usr/bin/chromium", cache=tmp_path, usable=usable.__contains__) == HEADLESS_SHELL
    assert find_browser(None, which=lambda name: "/usr/bin/chromium", cache=tmp_path,
                        usable={"/usr/bin/chromium"}.__contains__) == "/usr/bin/chromium"


def test_find_browser_falls_back_to_playwrights_own(tmp_path: Path) -> None:
    for build in ("chromium_headless_shell-1100", "chromium_headless_shell-1255"):
        exe = tmp_path / build / "chrome-linux64" / "chrome-headless-shell"
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    found = find_browser("auto", which=lambda name: None, cache=tmp_path,
                         usable=lambda p: p != HEADLESS_SHELL and os.access(p, os.X_OK))
    assert "chromium_headless_shell-1255" in found  # the newest build


def test_no_browser_is_a_clear_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFound, match="BACKLINKS_BROWSER_PATH=auto.*render=never"):
        find_browser("auto", which=lambda name: None, cache=tmp_path, usable=lambda p: False)
    with pytest.raises(BrowserNotFound, match="BACKLINKS_BROWSER_PATH='/opt/nothing'"):
        find_browser("/opt/nothing", usable=lambda p: False)


def test_launch_options_keep_user_args_and_drop_a_user_proxy() -> None:
    base = {"args": ["--lang=de", "--no-sandbox"], "slow_mo": 0, "proxy": {"server": "http://upstream:3128"}}
    options = launch_options("/bin/chrome", base, js_heap_mb=256)
    assert options["executable_path"] == "/bin/chrome" and options["slow_mo"] == 0 and options["headless"] is True
    args = options["args"]
    assert args[0] == "--lang=de" and args.count("--no-sandbox") == 1
    assert {"--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"} <= set(args)
    assert "--js-flags=--max-old-space-size=256" in args
    assert "proxy" not in options  # the browser's traffic goes through the guard proxy only
    assert not any(a.startswith("--js-flags") for a in launch_options("/bin/chrome", {}, js_heap_mb=0)["args"])


_MAIN = SimpleNamespace(parent_frame=None)
_CHILD = SimpleNamespace(parent_frame=_MAIN)


@pytest.mark.parametrize(("resource", "frame", "aborted"), [
    ("image", _MAIN, True), ("font", _MAIN, True), ("media", _MAIN, True), ("ping", _MAIN, True),
    ("manifest", _MAIN, True), ("texttrack", _MAIN, True),
    ("stylesheet", _MAIN, False), ("script", _MAIN, False), ("script", _CHILD, False),
    ("document", _MAIN, False),  # the page itself
    ("document", _CHILD, True),  # a frame's document: its links are not the page's
    ("fetch", _MAIN, False), ("xhr", _MAIN, False), ("websocket", _MAIN, False),
])
def test_abort_request(resource: str, frame: SimpleNamespace, aborted: bool) -> None:
    request = SimpleNamespace(resource_type=resource, url="data:text/plain,x", frame=frame)
    assert abort_request(request) is aborted  # type: ignore[arg-type]


def _pw_error(cls: type[PlaywrightError], message: str) -> PlaywrightError:
    error = cls(message)
    error._message = message  # what Playwright sets from the driver's answer
    return error


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_pw_error(PlaywrightTimeoutError, "Page.goto: Timeout 20000ms exceeded."), (Status.TIMEOUT, "render_timeout")),
        (_pw_error(PlaywrightError, "Page.goto: Page crashed"), (Status.NETWORK_ERROR, "render_crashed")),
        (_pw_error(PlaywrightError, "Target page, context or browser has been closed"),
         (Status.NETWORK_ERROR, "render_crashed")),
        (_pw_error(PlaywrightError, "Page.goto: net::ERR_CONNECTION_REFUSED at http://x.test/"),
         (Status.NETWORK_ERROR, "render_connection_refused")),
        (_pw_error(PlaywrightError, "Page.goto: net::ERR_TIMED_OUT at http://x.test/"), (Status.TIMEOUT, "render_timeout")),
        (_pw_error(PlaywrightError, "something else"), (Status.NETWORK_ERROR, "render_error")),
        (DownloadTimeoutError("plain"), (Status.TIMEOUT, "timeout")),
    ],
)
def test_classify_render_failure(exc: BaseException, expected: tuple[Status, str]) -> None:
    assert classify_render_failure(exc) == expected


def test_context_ledger_recycles_after_n_renders() -> None:
    ledger = ContextLedger(per_context=2)
    assigned = [ledger.assign() for _ in range(3)]
    assert assigned == [("backlinks-0", None), ("backlinks-0", None), ("backlinks-1", None)]
    assert not ledger.finish("backlinks-0")  # one render of the retired context still runs
    assert ledger.finish("backlinks-0")  # retired and idle: close it
    assert not ledger.finish("backlinks-1")  # idle but current: keep it
    with pytest.raises(ValueError, match="BACKLINKS_RENDER_CONTEXT_PAGES"):
        ContextLedger(0)


def test_context_ledger_retires_an_idle_context_when_the_next_render_comes() -> None:
    # Renders far apart: the context's last render ended while it was still current, so no
    # finish() reports it; the assignment that retires it does.
    ledger = ContextLedger(per_context=1)
    assert ledger.assign() == ("backlinks-0", None)
    assert not ledger.finish("backlinks-0")
    assert ledger.assign() == ("backlinks-1", "backlinks-0")
    assert ledger.assign() == ("backlinks-2", None)  # backlinks-1 still runs: finish() reports it
    assert ledger.finish("backlinks-1")
    assert not ledger.finish("backlinks-2")


def test_target_hosts() -> None:
    assert target_hosts(["https://www.Shop.test/a", "http://shop.test:8080/b", "https://blog.shop.test/",
                         "https://user@[::1]:8443/x"]) == ("shop.test", "blog.shop.test", "::1")


@pytest.mark.parametrize(("value", "mode"), [("never", RenderMode.NEVER), ("auto", RenderMode.AUTO),
                                             ("always", RenderMode.ALWAYS), (None, None)])
def test_render_argument(value: str | None, mode: RenderMode | None) -> None:
    assert VerifyArgs.parse({"render": value}).render is mode


def test_bad_render_argument_names_the_choices() -> None:
    with pytest.raises(ValueError, match="-a render: Input should be 'never', 'auto' or 'always'"):
        VerifyArgs.parse({"render": "sometimes"})
