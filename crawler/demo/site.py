"""A small fake web of referring pages, served on loopback, for the demo and for real crawl tests.

One aiohttp application answers every Host header: the crawler's DNS resolver maps the fake ``.test``
hosts to 127.0.0.1, and the URL keeps the server's port (``http://news.test:8123/2026/widgets``).
Each page embodies one :class:`Scenario`: a backlink to the user's shop ``www.example-shop.test`` that
is live, gone, hidden behind an error, and so on, with the status the crawler should store after each
of two crawls ("nights"). ``DemoSite.night`` switches what the pages say between the two crawls.

A scenario and the page that plays it are defined side by side (``@_serves``), so the expectation and
the markup cannot drift apart unnoticed.
"""

from __future__ import annotations

import asyncio
import csv
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Self

from aiohttp import web

from crawler.core.items import MatchMode
from crawler.core.outcome import Miss, Status
from crawler.shell.webserver import BackgroundServer

# --- The user's site: the targets of every backlink --------------------------------------------------

SHOP = "https://www.example-shop.test/"
WIDGET = "https://www.example-shop.test/products/widget"
GADGET = "https://www.example-shop.test/products/gadget"
SHOP_PRODUCTS = "https://www.example-shop.test/products/"
# The bare domain: a ``domain`` backlink on it also covers blog.example-shop.test (a subdomain), whatever
# the crawler decides about www.
SHOP_DOMAIN = "https://example-shop.test/"
# The part of the user's site the demo web serves (the shop itself is not), over plain HTTP on the
# demo's port, so target health has real answers: a removed product, a redirect chain, a noindex
# preview, and the shop's partners page (an own page: it links back to referring domains).
OUTLET_HOST = "outlet.example-shop.test"
OUTLET = "http://" + OUTLET_HOST + ":{port}"
OUTLET_GONE = OUTLET + "/products/old-widget"
OUTLET_SALE = OUTLET + "/sale"
OUTLET_SALE_END = OUTLET + "/sale/2026/winter"
OUTLET_PREVIEW = OUTLET + "/products/preview"
OUTLET_PARTNERS = OUTLET + "/partners"
BRAND = "Example Shop"  # the demo's BACKLINKS_BRAND_TERMS

# --- Knobs that crawler tests tune against their own settings -----------------------------------------

# The slow page answers after SLOW_DELAY * delay_scale seconds: above the ~1-2 s DOWNLOAD_TIMEOUT of
# crawl tests (at scale 1) and the ~5 s of the demo. The cap bounds how long any request is held,
# whatever the scale.
SLOW_DELAY = 8.0
SLOW_DELAY_CAP = 30.0
# Above the 2 MiB DOWNLOAD_MAXSIZE that crawl tests set, so the download is cut off mid-stream.
TOO_LARGE_BYTES = 3 * 1024 * 1024
# Where ``unreachable.test`` points when no DemoSite reserved a closed port: the discard port, which
# nothing listens on in a normal container or CI runner. A running DemoSite does better: it binds a
# port without listening (``closed_port``), so connections are refused for sure for as long as it runs.
DISCARD_PORT = 9
UNREACHABLE_HOST = "unreachable.test"
# A crawler that respects robots.txt never requests anything under this prefix on ROBOTS_HOST.
ROBOTS_HOST = "forum.test"
ROBOTS_DISALLOWED_PREFIX = "/members/"
NIGHTS = (1, 2)
# How long stop() waits for in-flight requests before cancelling them (the slow page, a stalled stream).
_STREAM_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Scenario:
    """One known backlink of the demo web and what the crawler should store for it after each night."""

    name: str
    referring_path: str  # the full URL is f"http://{host}:{port}{referring_path}"
    host: str
    target_url: str
    match: str  # a MatchMode value: exact | prefix | domain
    expect: tuple[str, str]  # Status values after night 1 and after night 2
    expect_reason: tuple[str | None, str | None]  # None when live; a Miss value; or the inconclusive detail
    note: str  # one line for the README and the demo
    tags: tuple[str, ...] = ()  # beside "demo"
    cost: float | None = None  # a paid link's price, in EUR

    def target(self, port: int) -> str:
        """The target URL; a page of the served part of the shop (OUTLET) carries the demo's port."""
        return self.target_url.format(port=port)


# --- Expectation shorthands: the patterns the scenarios share ----------------------------------------

_Expect = tuple[tuple[str, str], tuple[str | None, str | None]]
LIVE = Status.LIVE.value
MISSING = Status.MISSING_UNCONFIRMED.value
LOST = Status.LOST.value
_LIVE_BOTH: _Expect = ((LIVE, LIVE), (None, None))


def _miss_both(miss: Miss) -> _Expect:
    # Two conclusive misses in a row: the first is unconfirmed, the second confirms the loss.
    return (MISSING, LOST), (miss.value, miss.value)


def _inconclusive_both(status: Status, detail: str | None) -> _Expect:
    return (status.value, status.value), (detail, detail)


# --- The fake sites: what every page of a host shares --------------------------------------------------


@dataclass(frozen=True)
class _Site:
    name: str
    lang: str
    nav: tuple[tuple[str, str], ...]  # (path, label) internal links
    elsewhere: tuple[tuple[str, str], ...]  # (url, label) external links that are not the shop


_SITES: dict[str, _Site] = {
    "news.test": _Site(
        "Daily Widget News",
        "en",
        (("/", "Home"), ("/2026/", "2026"), ("/archive", "Archive")),
        (("https://www.wikipedia.test/wiki/Widget", "Widget (Wikipedia)"), ("https://social.test/dwn", "Follow us")),
    ),
    "blog.test": _Site(
        "Jane's Workshop",
        "en-GB",
        (("/", "Posts"), ("/about", "About")),
        (("https://tools.test/", "Tools I use"), ("https://makers.test/jane", "My maker profile")),
    ),
    "forum.test": _Site(
        "Widget Owners Forum",
        "en",
        (("/", "Forums"), ("/members/", "Members")),
        (("https://rules.test/forum", "Community rules"),),
    ),
    "directory.test": _Site(
        "Shopverzeichnis",
        "de",
        (("/", "Start"), ("/shops/", "Alle Shops")),
        (("https://verbraucher.test/", "Verbraucherzentrale"),),
    ),
    "shaky.test": _Site("Shaky Reviews", "en", (("/", "Home"),), (("https://status.test/shaky", "Status page"),)),
    "files.test": _Site("Widget Files", "en", (("/", "Downloads"),), (("https://mirror.test/", "Mirror"),)),
    "slow.test": _Site("Slow Times", "en", (("/", "Home"),), (("https://cdn.test/", "Our CDN"),)),
}
_PLAIN_SITE = _Site("A site", "en", (("/", "Home"),), ())


# --- Markup: small template functions -----------------------------------------------------------------


def _a(href: str, text: str, rel: str | None = None) -> str:
    rel_attr = f' rel="{rel}"' if rel else ""
    return f'<a href="{escape(href)}"{rel_attr}>{escape(text)}</a>'


def _p(*parts: str) -> str:
    return "<p>" + "".join(parts) + "</p>\n"


def _links_list(items: tuple[tuple[str, str], ...]) -> str:
    return "<ul>" + "".join(f"<li>{_a(url, label)}</li>" for url, label in items) + "</ul>"


@dataclass(frozen=True)
class _Ctx:
    """What a page function may depend on: the request (for its host and port) and the night."""

    request: web.Request
    night: int
    slow_delay: float

    @property
    def host(self) -> str:
        return _host_of(self.request)

    @property
    def base(self) -> str:
        # Keeps the port: absolute URLs in the pages (canonical, redirects) must lead back here.
        return f"http://{self.request.host}"

    def outlet(self, url: str) -> str:
        """An OUTLET URL on this server's port."""
        return url.format(port=self.request.url.port)


def _page(
    ctx: _Ctx,
    title: str,
    body: str,
    *,
    canonical: str | None = "",
    robots: str | None = None,
    comments: str = "",
    footer: str = "",
) -> str:
    """A whole HTML page of ctx's site; ``canonical=""`` points at the page itself, None leaves it out."""
    site = _SITES.get(ctx.host, _PLAIN_SITE)
    head = []
    if canonical is not None:
        head.append(f'<link rel="canonical" href="{escape(canonical or ctx.base + ctx.request.path)}">')
    if robots:
        head.append(f'<meta name="robots" content="{robots}">')
    nav = " ".join(_a(path, label) for path, label in site.nav)
    return (
        f'<!DOCTYPE html>\n<html lang="{site.lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} | {escape(site.name)}</title>\n" + "\n".join(head) + "\n</head>\n<body>\n"
        f'<header><a class="logo" href="/">{escape(site.name)}</a>\n<nav>{nav}</nav></header>\n'
        f"<main>\n<article>\n<h1>{escape(title)}</h1>\n{body}</article>\n{comments}</main>\n"
        f"<aside><h2>Elsewhere</h2>{_links_list(site.elsewhere)}</aside>\n"
        f"<footer><p>&copy; 2026 {escape(site.name)}</p>{footer}</footer>\n</body>\n</html>\n"
    )


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=text, status=status, headers=headers, content_type="text/html", charset="utf-8")


def _error_page(ctx: _Ctx, status: int, title: str, headers: dict[str, str] | None = None) -> web.Response:
    head = f'<!DOCTYPE html>\n<html lang="en"><head><title>{status} {escape(title)}</title></head>'
    return _html(f"{head}<body><h1>{escape(title)}</h1><p>{escape(ctx.host)}</p></body></html>\n", status, headers)


# --- Routing: scenarios and the pages that play them -----------------------------------------------------

_Page = Callable[[_Ctx], Awaitable[web.StreamResponse]]
_ROUTES: dict[tuple[str, str], _Page] = {}
_SCENARIOS: list[Scenario] = []


def _scenario(
    name: str,
    host: str,
    path: str,
    note: str,
    *,
    target: str = SHOP,
    match: MatchMode = MatchMode.EXACT,
    expect: _Expect = _LIVE_BOTH,
    tags: tuple[str, ...] = (),
    cost: float | None = None,
) -> Scenario:
    statuses, reasons = expect
    return Scenario(name, path, host, target, match.value, statuses, reasons, note, tags, cost)


def _route(host: str, path: str) -> Callable[[_Page], _Page]:
    def register(page: _Page) -> _Page:
        _ROUTES[(host, path)] = page
        return page

    return register


def _serves(*scenarios: Scenario) -> Callable[[_Page], _Page]:
    """Register the page function as the referring page of ``scenarios`` (all on one URL)."""

    ((host, path),) = {(s.host, s.referring_path) for s in scenarios}  # one page, one URL

    def register(page: _Page) -> _Page:
        _SCENARIOS.extend(scenarios)
        return _route(host, path)(page)

    return register


# news.test: articles whose links live, change, disappear and come back between the nights.


@_serves(_scenario("live", "news.test", "/2026/widgets-are-back", "A news article links the shop in its body."))
async def _live(ctx: _Ctx) -> web.StreamResponse:
    return _html(
        _page(
            ctx,
            "Widgets are back in fashion",
            _p("After a decade in the drawer, widgets are everywhere again. ")
            + _p("We asked ", _a(SHOP, "Example Shop"), ", which sold out twice this spring, what changed.")
            + _p("Read more in our ", _a("/archive", "archive"), "."),
        )
    )


@_serves(
    _scenario(
        "live_then_anchor_changed",
        "news.test",
        "/2026/best-widgets",
        "The anchor text is edited on night 2; the link stays live.",
        target=WIDGET,
    )
)
async def _anchor_changed(ctx: _Ctx) -> web.StreamResponse:
    anchor = "the best widget we tested" if ctx.night == 1 else "Example Shop's widget"
    return _html(_page(ctx, "The best widgets of 2026", _p("Our winner this year: ", _a(WIDGET, anchor), ".")))


@_serves(
    _scenario(
        "live_then_nofollow",
        "news.test",
        "/2026/widget-review",
        "The link gains rel=nofollow on night 2: still live, but no longer passes equity.",
        target=WIDGET,
    )
)
async def _nofollow(ctx: _Ctx) -> web.StreamResponse:
    rel = None if ctx.night == 1 else "nofollow"
    return _html(_page(ctx, "Widget review", _p("We bought ours at ", _a(WIDGET, "Example Shop", rel), ".")))


@_serves(
    _scenario(
        "several_links",
        "news.test",
        "/2026/widget-roundup",
        "Three links to the same product (plain, protocol-relative with a fragment, with utm parameters).",
        target=WIDGET,
    )
)
async def _several_links(ctx: _Ctx) -> web.StreamResponse:
    body = (
        _p("First up, the ", _a(WIDGET, "classic widget"), " that started it all.")
        + _p("Readers love its ", _a("//www.example-shop.test/products/widget#reviews", "reviews"), ".")
        + _p("Still not sure? ", _a(WIDGET + "?utm_source=news&utm_medium=referral", "Buy it here"), ".")
    )
    return _html(_page(ctx, "Widget roundup", body))


@_serves(
    _scenario(
        "removed",
        "news.test",
        "/2026/old-partners",
        "The link was removed before the first crawl: lost once a second crawl confirms it.",
        expect=_miss_both(Miss.LINK_REMOVED),
    )
)
async def _removed(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "Our partners", _p("We no longer list partner shops on this page.")))


@_serves(
    _scenario(
        "removed_then_restored",
        "news.test",
        "/2026/restored",
        "The link is missing on night 1 and back on night 2: never declared lost.",
        expect=((MISSING, LIVE), (Miss.LINK_REMOVED.value, None)),
    )
)
async def _restored(ctx: _Ctx) -> web.StreamResponse:
    link = _a(SHOP, "Example Shop") if ctx.night == 2 else "a shop we cannot name yet"
    return _html(_page(ctx, "Where to buy widgets", _p("Our readers' favourite is ", link, ".")))


@_serves(
    _scenario(
        "live_then_removed",
        "news.test",
        "/2026/spring-sale",
        "The link is removed between the nights: one miss, not yet lost.",
        expect=((LIVE, MISSING), (None, Miss.LINK_REMOVED.value)),
    )
)
async def _then_removed(ctx: _Ctx) -> web.StreamResponse:
    link = _a(SHOP, "Example Shop's spring sale") if ctx.night == 1 else "a spring sale (now over)"
    return _html(_page(ctx, "Spring sales", _p("Do not miss ", link, ".")))


@_serves(
    _scenario(
        "target_changed",
        "news.test",
        "/2026/gadget-launch",
        "On night 2 the link points to another product of the shop: an exact backlink is missing.",
        target=WIDGET,
        expect=((LIVE, MISSING), (None, Miss.LINK_REMOVED.value)),
    )
)
async def _target_changed(ctx: _Ctx) -> web.StreamResponse:
    link = _a(WIDGET, "the widget") if ctx.night == 1 else _a(GADGET, "the new gadget")
    return _html(_page(ctx, "Launch day", _p("Example Shop launched ", link, " today.")))


@_serves(
    _scenario(
        "shared_page_present",
        "news.test",
        "/2026/gift-guide",
        "One page, two known backlinks: this one is there (the page is fetched once for both).",
        target=WIDGET,
    ),
    _scenario(
        "shared_page_absent",
        "news.test",
        "/2026/gift-guide",
        "One page, two known backlinks: this one is gone.",
        target=GADGET,
        expect=_miss_both(Miss.LINK_REMOVED),
    ),
)
async def _gift_guide(ctx: _Ctx) -> web.StreamResponse:
    body = _p("For the tinkerer: ", _a(WIDGET, "a widget"), ". ") + _p("For everyone else: a gift card.")
    return _html(_page(ctx, "Gift guide", body))


@_serves(
    _scenario(
        "page_404",
        "news.test",
        "/2024/deleted-story",
        "The referring page answers 404.",
        expect=_miss_both(Miss.PAGE_NOT_FOUND),
    )
)
async def _not_found(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 404, "Not Found")


@_serves(
    _scenario(
        "page_410",
        "news.test",
        "/2024/retracted-story",
        "The referring page answers 410 Gone.",
        expect=_miss_both(Miss.PAGE_NOT_FOUND),
    )
)
async def _gone(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 410, "Gone")


@_serves(
    _scenario(
        "redirected",
        "news.test",
        "/2025/widget-history",
        "301 to the archive index, which lacks the link.",
        expect=_miss_both(Miss.PAGE_REDIRECTED),
    )
)
async def _redirected(ctx: _Ctx) -> web.StreamResponse:
    return web.Response(status=301, headers={"Location": ctx.base + "/archive"})


@_route("news.test", "/archive")
async def _archive(ctx: _Ctx) -> web.StreamResponse:
    body = _p("Older stories: ", _a("/2026/widgets-are-back", "Widgets are back"), ".")
    return _html(_page(ctx, "Archive", body))


@_serves(
    _scenario(
        "redirect_keeps_link",
        "news.test",
        "/2025/moved-story",
        "301 (relative Location) to the new address of the story, which still links the shop.",
    )
)
async def _moved(ctx: _Ctx) -> web.StreamResponse:
    return web.Response(status=301, headers={"Location": "/2026/moved-story"})


@_route("news.test", "/2026/moved-story")
async def _moved_here(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "A story that moved", _p("It all began at ", _a(SHOP, "Example Shop"), ".")))


@_serves(
    _scenario(
        "not_canonical",
        "news.test",
        "/syndicated/widget-guide",
        "A syndicated copy whose canonical is another URL and which lacks the link.",
        target=WIDGET,
        expect=_miss_both(Miss.NOT_CANONICAL),
    )
)
async def _syndicated(ctx: _Ctx) -> web.StreamResponse:
    body = _p("This guide first appeared on our partner site. Product links were stripped.")
    return _html(_page(ctx, "Widget guide", body, canonical=ctx.base + "/2026/widgets-are-back"))


# blog.test: link attributes (sponsored, ugc, image, footer) and robots directives.


@_serves(
    _scenario(
        "sponsored",
        "blog.test",
        "/reviews/widget-pro",
        'A paid review: rel="sponsored", live but not followed.',
        target=WIDGET,
    )
)
async def _sponsored(ctx: _Ctx) -> web.StreamResponse:
    body = _p("This post is sponsored. I tested ", _a(WIDGET, "the Widget Pro", "sponsored"), " for a month.")
    return _html(_page(ctx, "Widget Pro review", body))


@_serves(
    _scenario(
        "ugc_comment",
        "blog.test",
        "/posts/diy-shelf",
        'A reader\'s comment links the product with rel="ugc nofollow".',
        target=WIDGET,
    )
)
async def _ugc(ctx: _Ctx) -> web.StreamResponse:
    comments = (
        '<section id="comments"><h2>Comments</h2>\n<div class="comment"><p class="author">Sam</p>'
        + _p("Great shelf! I used ", _a(WIDGET, "this widget", "ugc nofollow"), " for the brackets.")
        + "</div></section>\n"
    )
    return _html(_page(ctx, "A DIY shelf", _p("Here is how I built my shelf."), comments=comments))


@_serves(
    _scenario(
        "image_link",
        "blog.test",
        "/posts/my-setup",
        "An image link: no text, the anchor is the image's alt.",
    )
)
async def _image_link(ctx: _Ctx) -> web.StreamResponse:
    image = f'<a href="{SHOP}"><img src="/static/example-shop-logo.png" alt="Example Shop logo"></a>'
    return _html(_page(ctx, "My workshop setup", _p("Most of my kit comes from here: ", image)))


@_serves(
    _scenario(
        "footer_link",
        "blog.test",
        "/about",
        "A blogroll link in the footer only (position footer).",
    )
)
async def _footer_link(ctx: _Ctx) -> web.StreamResponse:
    footer = "<h2>Blogroll</h2>" + _links_list(((SHOP, "Example Shop"), ("https://makers.test/", "Makers")))
    return _html(_page(ctx, "About me", _p("I build things from wood and widgets."), footer=footer))


@_serves(
    _scenario(
        "noindex_without_link",
        "blog.test",
        "/drafts/old-post",
        "A noindex page without the link: the miss is put down to noindex.",
        expect=_miss_both(Miss.NOINDEX),
    )
)
async def _noindex_without(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "Old draft", _p("Nothing to see here yet."), robots="noindex"))


@_serves(
    _scenario(
        "noindex_with_link",
        "blog.test",
        "/tags/widgets",
        "A noindex page that still has the link: live (the noindex is recorded as a page fact).",
        target=WIDGET,
    )
)
async def _noindex_with(ctx: _Ctx) -> web.StreamResponse:
    body = _p("All posts about ", _a(WIDGET, "widgets"), ".")
    return _html(_page(ctx, "Tag: widgets", body, robots="noindex, follow"))


@_serves(
    _scenario(
        "x_robots_noindex",
        "blog.test",
        "/newsletter/latest",
        "An X-Robots-Tag: noindex header on a page with the link: live.",
    )
)
async def _x_robots(ctx: _Ctx) -> web.StreamResponse:
    body = _p("This month's newsletter features ", _a(SHOP, "Example Shop"), ".")
    return _html(_page(ctx, "Newsletter", body), headers={"X-Robots-Tag": "noindex"})


# forum.test: robots.txt keeps crawlers out of /members/, threads are open.


@_serves(
    _scenario(
        "blocked_robots",
        ROBOTS_HOST,
        ROBOTS_DISALLOWED_PREFIX + "top-posters",
        "robots.txt disallows the page: it must never be fetched.",
        expect=_inconclusive_both(Status.BLOCKED_ROBOTS, "robots.txt"),
    )
)
async def _members(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "Top posters", _p("Sam recommends ", _a(SHOP, "Example Shop"), ".")))


@_serves(
    _scenario(
        "prefix_match",
        ROBOTS_HOST,
        "/threads/where-to-buy",
        "A prefix backlink (anything under /products/) matched by a product link with a query string.",
        target=SHOP_PRODUCTS,
        match=MatchMode.PREFIX,
    )
)
async def _thread(ctx: _Ctx) -> web.StreamResponse:
    body = _p("Got mine here: ", _a(WIDGET + "?ref=forum", "example-shop.test/products/widget", "ugc"), ".")
    return _html(_page(ctx, "Where to buy a widget?", body))


# directory.test: a German shop directory.


@_serves(
    _scenario(
        "domain_match",
        "directory.test",
        "/shops/haus-und-garten",
        "A domain backlink matched by a link to the shop's blog subdomain.",
        target=SHOP_DOMAIN,
        match=MatchMode.DOMAIN,
    )
)
async def _directory(ctx: _Ctx) -> web.StreamResponse:
    body = _p("Example Shop: ", _a("https://blog.example-shop.test/x", "Ratgeber und Anleitungen"), ".")
    return _html(_page(ctx, "Haus und Garten", body))


# Bot protection: each on its own host, as a CDN or firewall guards a whole site.


@_serves(
    _scenario(
        "blocked_403",
        "waf.test",
        "/press/widget-award",
        "A firewall answers 403: blocked, not lost.",
        expect=_inconclusive_both(Status.BLOCKED_BOT, "403"),
    )
)
async def _forbidden(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 403, "Access denied")


@_serves(
    _scenario(
        "blocked_challenge",
        "cdn-guard.test",
        "/guides/widgets",
        "A Cloudflare-style 503 challenge (cf-mitigated: challenge): blocked, not a server error.",
        expect=_inconclusive_both(Status.BLOCKED_BOT, "503"),
    )
)
async def _challenge(ctx: _Ctx) -> web.StreamResponse:
    # Shaped like Cloudflare's managed challenge: the header, the exact title and the script markers, so a
    # detector keyed on any one of them sees it.
    headers = {"cf-mitigated": "challenge", "Server": "cloudflare", "Cache-Control": "no-store"}
    page = (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>\n'
        f"<h1>{escape(ctx.host)}</h1><p>Verifying you are human. This may take a few seconds.</p>\n"
        "<noscript>Enable JavaScript and cookies to continue</noscript>\n"
        "<script>window._cf_chl_opt={cType: 'managed'};</script>\n"
        '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script>\n</body></html>\n'
    )
    return _html(page, 503, headers)


@_serves(
    _scenario(
        "blocked_429",
        "busy.test",
        "/deals/widgets",
        "429 Too Many Requests with Retry-After: blocked, not lost.",
        expect=_inconclusive_both(Status.BLOCKED_BOT, "429"),
    )
)
async def _too_many(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 429, "Too Many Requests", {"Retry-After": "3600"})


# shaky.test: server errors, including one that recovers.


@_serves(
    _scenario(
        "server_error",
        "shaky.test",
        "/reviews/widget",
        "500 on both nights: an error is never a miss.",
        expect=_inconclusive_both(Status.SERVER_ERROR, "500"),
    )
)
async def _server_error(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 500, "Internal Server Error")


@_serves(
    _scenario(
        "maintenance_503",
        "shaky.test",
        "/maintenance",
        "A plain 503 (maintenance, no challenge marker): a server error, not a block.",
        expect=_inconclusive_both(Status.SERVER_ERROR, "503"),
    )
)
async def _maintenance(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 503, "Down for maintenance", {"Retry-After": "600"})


@_serves(
    _scenario(
        "flaky",
        "shaky.test",
        "/reviews/gadget",
        "500 on night 1, fine on night 2: the error never counted as a miss.",
        expect=((Status.SERVER_ERROR.value, LIVE), ("500", None)),
    )
)
async def _flaky(ctx: _Ctx) -> web.StreamResponse:
    if ctx.night == 1:
        return _error_page(ctx, 500, "Internal Server Error")
    return _html(_page(ctx, "Gadget review", _p("Four stars for ", _a(SHOP, "Example Shop"), "'s service.")))


# slow.test: answers after the crawler has given up.


@_serves(
    _scenario(
        "slow",
        "slow.test",
        "/2026/long-read",
        "The page answers after the crawler's DOWNLOAD_TIMEOUT: a timeout, not a miss.",
        expect=_inconclusive_both(Status.TIMEOUT, "timeout"),
    )
)
async def _slow(ctx: _Ctx) -> web.StreamResponse:
    await asyncio.sleep(ctx.slow_delay)
    return _html(_page(ctx, "A very long read", _p("Worth the wait: ", _a(SHOP, "Example Shop"), ".")))


# files.test: things that are not an HTML page we can judge.


def _pdf(text: str, link: str) -> bytes:
    """A one-page PDF with a line of text and a link annotation (small, but valid: real xref offsets)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>",
        b"<< /Length %d >>\nstream\n%b\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Annot /Subtype /Link /Rect [72 710 400 740] /A << /S /URI /URI (%b) >> >>" % link.encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


_BROCHURE = _pdf("Widgets from Example Shop", WIDGET)


@_serves(
    _scenario(
        "not_html",
        "files.test",
        "/brochures/widget.pdf",
        "A PDF (application/pdf) that mentions the product: not HTML, so not judged.",
        target=WIDGET,
        expect=_inconclusive_both(Status.NOT_HTML, "application/pdf"),
    )
)
async def _brochure(ctx: _Ctx) -> web.StreamResponse:
    return web.Response(body=_BROCHURE, content_type="application/pdf")


_FILLER_LINE = "<p>Archived post: widgets, gadgets and everything in between.</p>\n"
_FILLER_CHUNK = (_FILLER_LINE * (_STREAM_CHUNK // len(_FILLER_LINE))).encode()
_FILLER_MARK = "<!-- filler -->"


async def _stream_large_page(ctx: _Ctx, *, declare_length: bool) -> web.StreamResponse:
    """TOO_LARGE_BYTES (or a little more) of HTML, the link right at the top, written in chunks.

    The link being present shows that a page cut off by DOWNLOAD_MAXSIZE is not judged at all.
    """
    body = _p("Everything we ever wrote, on one page. Sponsor: ", _a(SHOP, "Example Shop"), ".") + _FILLER_MARK
    head, tail = (part.encode() for part in _page(ctx, "The complete archive", body).split(_FILLER_MARK))
    chunks = -(-(TOO_LARGE_BYTES - len(head) - len(tail)) // len(_FILLER_CHUNK))  # ceiling division
    response = web.StreamResponse()
    response.content_type = "text/html"
    response.charset = "utf-8"
    if declare_length:
        response.content_length = len(head) + chunks * len(_FILLER_CHUNK) + len(tail)
    else:
        response.enable_chunked_encoding()
    await response.prepare(ctx.request)
    try:
        await response.write(head)
        for _ in range(chunks):
            await response.write(_FILLER_CHUNK)
        await response.write(tail)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the expected end: the crawler hung up once the page passed DOWNLOAD_MAXSIZE
    return response


@_serves(
    _scenario(
        "too_large",
        "files.test",
        "/archive/everything.html",
        "A 3 MiB HTML page sent chunked (no Content-Length): cut off at DOWNLOAD_MAXSIZE, not judged.",
        expect=_inconclusive_both(Status.TOO_LARGE, "download_maxsize"),
    )
)
async def _too_large(ctx: _Ctx) -> web.StreamResponse:
    return await _stream_large_page(ctx, declare_length=False)


@_serves(
    _scenario(
        "too_large_declared",
        "files.test",
        "/archive/everything-declared.html",
        "The same page with a Content-Length: refused before the body is read.",
        expect=_inconclusive_both(Status.TOO_LARGE, "download_maxsize"),
    )
)
async def _too_large_declared(ctx: _Ctx) -> web.StreamResponse:
    return await _stream_large_page(ctx, declare_length=True)


# Brand mentions (BACKLINKS_BRAND_TERMS = BRAND): pages that name the shop without linking to it.


@_serves(
    _scenario(
        "mention_unlinked",
        "news.test",
        "/2026/shop-interview",
        "The link is removed on night 2 but the article still names Example Shop: a mention to reclaim.",
        expect=((LIVE, MISSING), (None, Miss.LINK_REMOVED.value)),
    )
)
async def _mention_unlinked(ctx: _Ctx) -> web.StreamResponse:
    name = _a(SHOP, BRAND) if ctx.night == 1 else BRAND
    body = _p("We met the founders of ", name, ", who started with one widget in a garage.")
    return _html(_page(ctx, "Interview: the widget garage", body))


@_serves(
    _scenario(
        "mention_linked",
        "blog.test",
        "/posts/favourite-shops",
        "Night 1 names Example Shop without a link; night 2 links it: the mention turned into a link.",
        expect=((MISSING, LIVE), (Miss.LINK_REMOVED.value, None)),
    )
)
async def _mention_linked(ctx: _Ctx) -> web.StreamResponse:
    name = BRAND if ctx.night == 1 else _a(SHOP, BRAND)
    return _html(_page(ctx, "My favourite shops", _p("For brackets and widgets I go to ", name, ".")))


# Target health: live links to pages of the shop's outlet (OUTLET) that waste them.


@_serves(
    _scenario(
        "target_not_found",
        "news.test",
        "/2026/widget-classics",
        "A live link to a product the shop removed: the target answers 404 (target health: not_found).",
        target=OUTLET_GONE,
    )
)
async def _target_gone(ctx: _Ctx) -> web.StreamResponse:
    body = _p("The one that started it all: ", _a(ctx.outlet(OUTLET_GONE), "the original widget"), ".")
    return _html(_page(ctx, "Widget classics", body))


@_serves(
    _scenario(
        "target_redirect_chain",
        ROBOTS_HOST,
        "/threads/winter-sale",
        "A live link to a sale page that redirects twice (target health: redirected).",
        target=OUTLET_SALE,
    )
)
async def _target_chain(ctx: _Ctx) -> web.StreamResponse:
    body = _p("Heads up, the ", _a(ctx.outlet(OUTLET_SALE), "outlet sale", "ugc"), " is on.")
    return _html(_page(ctx, "Winter sale thread", body))


@_serves(
    _scenario(
        "target_noindex",
        "blog.test",
        "/posts/sneak-peek",
        "A live link to a preview page the shop marks noindex (target health: noindex).",
        target=OUTLET_PREVIEW,
    )
)
async def _target_noindex(ctx: _Ctx) -> web.StreamResponse:
    body = _p("A sneak peek at ", _a(ctx.outlet(OUTLET_PREVIEW), "the next widget"), ".")
    return _html(_page(ctx, "Sneak peek", body))


@_route(OUTLET_HOST, "/products/old-widget")
async def _outlet_gone(ctx: _Ctx) -> web.StreamResponse:
    return _error_page(ctx, 404, "Not Found")


@_route(OUTLET_HOST, "/sale")
async def _outlet_sale(ctx: _Ctx) -> web.StreamResponse:
    return web.Response(status=301, headers={"Location": "/sale/2026"})


@_route(OUTLET_HOST, "/sale/2026")
async def _outlet_sale_year(ctx: _Ctx) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": ctx.outlet(OUTLET_SALE_END)})


@_route(OUTLET_HOST, "/sale/2026/winter")
async def _outlet_sale_end(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "Winter sale", _p("Everything must go.")))


@_route(OUTLET_HOST, "/products/preview")
async def _outlet_preview(ctx: _Ctx) -> web.StreamResponse:
    return _html(_page(ctx, "Coming soon", _p("The next widget."), robots="noindex"))


@_route(OUTLET_HOST, "/partners")
async def _outlet_partners(ctx: _Ctx) -> web.StreamResponse:
    """The shop's own partners page (BACKLINKS_OWN_PAGES): it links back to two referring domains."""
    body = _p("Friends of the shop: ", _a("http://blog.test/", "Jane's Workshop"), " and ",
              _a("http://best-picks.test/", "Best Picks"), ".")
    return _html(_page(ctx, "Our partners", body))


# A link network: three sites on one theme and one address (LINK_FARM_ADDRESS), selling links.

_THEME_SHEET = "/wp-content/themes/linkwheel/style.css"
FARM_HOSTS = ("widget-deals.test", "gadget-guru.test", "best-picks.test")


def _themed_page(ctx: _Ctx, title: str, body: str, ads: tuple[tuple[str, str], ...] = ()) -> str:
    """A page of the network's shared theme: same stylesheet, same template classes, other words."""
    name = ctx.host.removesuffix(".test").replace("-", " ").title()
    menu = "".join(f'<li class="menu-item"><a href="/{slug}">{slug.title()}</a></li>' for slug in ("deals", "reviews"))
    sponsors = "".join(f'<li class="widget-item">{_a(url, label, "sponsored")}</li>' for url, label in ads)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)} - {escape(name)}</title>\n'
        f'<link rel="stylesheet" href="{_THEME_SHEET}?ver=2.3">\n</head>\n<body class="home blog">\n'
        f'<header class="site-header"><a class="site-title" href="/">{escape(name)}</a>\n'
        f'<nav class="main-navigation"><ul class="menu">{menu}</ul></nav></header>\n'
        f'<main class="site-main"><article class="post"><h1 class="entry-title">{escape(title)}</h1>\n{body}</article></main>\n'
        f'<aside class="widget-area"><h2 class="widget-title">Sponsors</h2><ul class="widget-list">{sponsors}</ul></aside>\n'
        f'<footer class="site-footer"><p class="site-info">Powered by Linkwheel</p></footer>\n</body>\n</html>\n'
    )


_ADS = tuple((f"https://sponsor{n}.test/", f"Sponsor {n}") for n in range(1, 6))


@_serves(
    _scenario(
        "paid_sponsored",
        "widget-deals.test",
        "/deals/widget-of-the-month",
        'A paid placement on a link network site, marked rel="sponsored" as it should be.',
        target=WIDGET,
        tags=("paid",),
        cost=120.0,
    )
)
async def _paid_sponsored(ctx: _Ctx) -> web.StreamResponse:
    body = _p("This month's deal: ", _a(WIDGET, "the Example Shop widget", "sponsored"), ".")
    return _html(_themed_page(ctx, "Widget of the month", body, _ADS[:2]))


@_serves(
    _scenario(
        "paid_not_sponsored",
        "gadget-guru.test",
        "/reviews/top-widgets",
        'A paid placement without rel="sponsored": a followed paid link (signal sponsored_without_rel).',
        target=WIDGET,
        tags=("paid",),
        cost=90.0,
    )
)
async def _paid_plain(ctx: _Ctx) -> web.StreamResponse:
    body = _p("Our top pick is ", _a(WIDGET, "this widget"), ", no question.")
    return _html(_themed_page(ctx, "Top widgets", body, _ADS[:1]))


@_serves(
    _scenario(
        "mostly_sponsored",
        "best-picks.test",
        "/best-widget-shops",
        "A page of the network whose links are nearly all sponsored (signal mostly_sponsored).",
        tags=("paid",),
        cost=60.0,
    )
)
async def _mostly_sponsored(ctx: _Ctx) -> web.StreamResponse:
    body = _p("The best widget shops: ", _a(SHOP, "Example Shop", "sponsored"), ".")
    return _html(_themed_page(ctx, "Best widget shops", body, _ADS))


# unreachable.test: no page at all; the URL's port is closed (see DISCARD_PORT).
_SCENARIOS.append(
    _scenario(
        "network_error",
        UNREACHABLE_HOST,
        "/widgets",
        "Nothing listens on the URL's port: connection refused, a network error, not a miss.",
        expect=_inconclusive_both(Status.NETWORK_ERROR, "connection_refused"),
    )
)

SCENARIOS: tuple[Scenario, ...] = tuple(_SCENARIOS)


# --- Addresses: which loopback address serves which host ---------------------------------------------

# Each site on an address of its own, as on the web, except the link network's three on one
# (the shared-address signal). Hosts not listed are served on the server's own address.
LINK_FARM_ADDRESS = "127.0.0.50"
_HOSTS = ("news.test", "blog.test", ROBOTS_HOST, "directory.test", "waf.test", "cdn-guard.test", "busy.test",
          "shaky.test", "slow.test", "files.test", OUTLET_HOST)
ADDRESSES: dict[str, str] = {
    **{host: f"127.0.0.{11 + n}" for n, host in enumerate(_HOSTS)},
    **dict.fromkeys(FARM_HOSTS, LINK_FARM_ADDRESS),
}


# --- robots.txt ---------------------------------------------------------------------------------------

_ALLOW_ALL = "User-agent: *\nDisallow:\n"
_ROBOTS = {ROBOTS_HOST: f"User-agent: *\nDisallow: {ROBOTS_DISALLOWED_PREFIX}\n"}


def _robots_txt(host: str) -> str:
    """The robots.txt every host serves: all allow everything, except ROBOTS_HOST."""
    return _ROBOTS.get(host, _ALLOW_ALL)


# --- The server --------------------------------------------------------------------------------------


def _host_of(request: web.Request) -> str:
    # yarl parses the Host header (port, IPv6 brackets) and lower-cases the name.
    return request.url.host or ""


class _State:
    """What the running app reads and the test thread writes: the night and the hit counter."""

    def __init__(self, slow_delay: float) -> None:
        self.lock = threading.Lock()
        self.night = 1
        self.hits: Counter[tuple[str, str]] = Counter()
        self.slow_delay = slow_delay


_STATE = web.AppKey("state", _State)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    host, path = _host_of(request), request.path
    with state.lock:
        state.hits[(host, path)] += 1
        night = state.night
    ctx = _Ctx(request, night, state.slow_delay)
    if path == "/robots.txt":
        return web.Response(text=_robots_txt(host), content_type="text/plain")
    page = _ROUTES.get((host, path))
    if page is None:
        return _error_page(ctx, 404, "Not Found")
    return await page(ctx)


async def _set_night(request: web.Request) -> web.StreamResponse:
    """``POST /_demo/night/2``: lets a demo script switch the night of a server in another process.

    POST only, so no crawler following links can flip it.
    """
    night = int(request.match_info["night"])
    if night not in NIGHTS:
        raise web.HTTPBadRequest(text=f"night must be one of {NIGHTS}")
    state = request.app[_STATE]
    with state.lock:
        state.night = night
    return web.Response(text=f"night {night}\n")


def _make_app(state: _State) -> web.Application:
    app = web.Application()
    app[_STATE] = state
    app.router.add_post("/_demo/night/{night:\\d+}", _set_night)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app


def scenario_url(scenario: Scenario, port: int, closed_port: int = DISCARD_PORT) -> str:
    """The referring URL of ``scenario`` on a demo site listening on ``port``."""
    used = closed_port if scenario.host == UNREACHABLE_HOST else port
    return f"http://{scenario.host}:{used}{scenario.referring_path}"


class DemoSite(BackgroundServer):
    """The demo web on ``host`` (loopback), served from a background thread with its own event loop.

    Use as a context manager, or call start() and stop(). ``night`` may be switched at any time;
    ``hits`` counts the requests a crawler could make (robots.txt included, night switches over HTTP
    not) per (lower-case host, path); read or clear it from the calling thread.
    """

    thread_name = "demo-site"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay_scale: float = 1.0) -> None:
        super().__init__(host, port)
        self.closed_port = DISCARD_PORT
        self.slow_delay = min(SLOW_DELAY * delay_scale, SLOW_DELAY_CAP)
        self._state = _State(self.slow_delay)
        self._closed_socket: socket.socket | None = None
        self._addresses: set[str] = set()

    @property
    def night(self) -> int:
        with self._state.lock:
            return self._state.night

    @night.setter
    def night(self, value: int) -> None:
        if value not in NIGHTS:
            raise ValueError(f"night must be one of {NIGHTS}, not {value!r}")
        with self._state.lock:
            self._state.night = value

    @property
    def hits(self) -> Counter[tuple[str, str]]:
        return self._state.hits

    def url(self, scenario: Scenario) -> str:
        return scenario_url(scenario, self.port, self.closed_port)

    @property
    def resolve_rules(self) -> str:
        """``BACKLINKS_RESOLVE`` for a crawl of this web: each host to the address serving it."""
        mapped = [f"{host}={address}" for host, address in ADDRESSES.items() if address in self._addresses]
        return ",".join([*mapped, f"*.test={self.host}"])

    def crawl_settings(self) -> dict[str, str]:
        """What a crawl of the demo web sets beside its address rules: the brand and own pages."""
        return {
            "BACKLINKS_RESOLVE": self.resolve_rules,
            "BACKLINKS_BRAND_TERMS": BRAND,
            "BACKLINKS_OWN_PAGES": OUTLET_PARTNERS.format(port=self.port),
        }

    def make_app(self) -> web.Application:
        return _make_app(self._state)

    def start(self) -> Self:
        # Bound but never listening: the kernel refuses connections to it, and no other process can take
        # the port while we hold it, so the network_error scenario is deterministic.
        self._closed_socket = socket.socket()
        self._closed_socket.bind((self.host, 0))
        self.closed_port = self._closed_socket.getsockname()[1]
        super().start()
        # Not every system routes all of 127.0.0.0/8 to loopback (macOS has 127.0.0.1 only): a host
        # whose address cannot be bound is served on the server's own address, and shares it.
        self._addresses = self.listen_also(sorted(set(ADDRESSES.values())))
        return self

    def stop(self) -> None:
        super().stop()
        if self._closed_socket is not None:
            self._closed_socket.close()
            self._closed_socket = None


def write_backlinks_csv(path: Path, port: int, closed_port: int = DISCARD_PORT) -> int:
    """Write every scenario's backlink in our import format and return the number of rows.

    Only the columns we fill are written: an empty expected_anchor would read as a demand for "".
    """
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match", "tags", "cost", "currency", "notes"])
        for scenario in SCENARIOS:
            url = scenario_url(scenario, port, closed_port)
            tags = ",".join(("demo", *scenario.tags))
            cost, currency = ("", "") if scenario.cost is None else (f"{scenario.cost:.2f}", "EUR")
            writer.writerow([url, scenario.target(port), scenario.match, tags, cost, currency,
                             f"{scenario.name}: {scenario.note}"])
    return len(SCENARIOS)
