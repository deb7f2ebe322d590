"""A small web of JavaScript pages on loopback, for rendering tests and the render benchmark.

One aiohttp application answers every Host (the crawler maps ``*.test`` to 127.0.0.1 for both the
plain handler and the browser). Each :class:`JsPage` links the shop in its own way: in the static
HTML, only after scripts ran, hidden by CSS, or never; some misbehave (never finish loading, spin,
crash the tab, kill the browser). ``JsPage.expect`` says what a crawl must store for it with each
render mode. ``/bench/static/N`` and ``/bench/js/N`` are the benchmark's pages.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from aiohttp import web

from crawler.shell.webserver import BackgroundServer

SHOP = "https://www.example-shop.test/"
# Whole seconds the crawl tests give a loaded page to insert a link (BACKLINKS_RENDER_WAIT).
TEST_WAIT = 1.0
_LINK = f'<a href="{SHOP}">Example Shop</a>'
_FILLER = (
    "Widgets come in many shapes. We compared prices, delivery times and the answers of each shop's "
    "support team, then wrote down what surprised us. "
)


@dataclass(frozen=True)
class JsPage:
    """One page of the JS web and the (status, found_in, hidden) a crawl must store per render mode."""

    path: str
    note: str
    never: tuple[str, str | None, bool | None]
    auto: tuple[str, str | None, bool | None]
    always: tuple[str, str | None, bool | None]

    def expect(self, mode: str) -> tuple[str, str | None, bool | None]:
        return {"never": self.never, "auto": self.auto, "always": self.always}[mode]


_MISS = ("missing_unconfirmed", None, None)
_RAW = ("live", "raw", None)
_BOTH_VISIBLE = ("live", "both", False)
_RENDERED = ("live", "rendered", False)

PAGES: tuple[JsPage, ...] = (
    JsPage("/static", "The link is in the HTML; no scripts.", _RAW, _RAW, _BOTH_VISIBLE),
    JsPage("/static-no-link", "No link, no scripts: auto never renders it.", _MISS, _MISS, _MISS),
    JsPage("/after-load", "A script inserts the link on the load event.", _MISS, _RENDERED, _RENDERED),
    JsPage("/delayed-within", "The link appears 0.5 s after load, within the wait.", _MISS, _RENDERED, _RENDERED),
    JsPage("/delayed-beyond", "The link appears long after the wait: a confirmed miss.", _MISS, _MISS, _MISS),
    JsPage("/fetched", "The link comes from a fetch()ed JSON document.", _MISS, _RENDERED, _RENDERED),
    JsPage("/app", "A framework-style app: an empty #root filled by a script.", _MISS, _RENDERED, _RENDERED),
    JsPage("/removed", "In the HTML, removed by a script: live, found only in the raw HTML.", _RAW, _RAW, _RAW),
    JsPage("/scripted-no-link", "Scripts, but no link anywhere: one render confirms the miss.", _MISS, _MISS, _MISS),
    *(
        JsPage(f"/hidden/{kind}", f"The link is hidden by {kind}.", _RAW, _RAW, ("live", "both", True))
        for kind in ("display-none", "visibility-hidden", "zero-size", "off-screen", "opacity-zero", "hidden-ancestor")
    ),
    JsPage("/hidden/visible-control", "Same markup as the hidden pages, link visible.", _RAW, _RAW, _BOTH_VISIBLE),
    JsPage("/never-ends", "The body never finishes: a timeout, whatever the mode.", ("timeout", None, None),
           ("timeout", None, None), ("timeout", None, None)),
    JsPage("/loop", "After load a script spins forever; static HTML lacks the link.", _MISS,
           ("timeout", None, None), ("timeout", None, None)),
    JsPage("/crash", "A script eats memory until the tab crashes; static HTML lacks the link.", _MISS,
           ("network_error", None, None), ("network_error", None, None)),
    # Renders end at DOMContentLoaded plus the wait for links, not at the load event.
    JsPage("/slow-subresources", "A script inserts the link; 40 sub-resources hang, fail or crawl in, so "
           "the load event never comes.", _MISS, _RENDERED, _RENDERED),
    JsPage("/late-widget", "A third-party script arriving after the wait inserts the link; load never "
           "comes.", _MISS, _RENDERED, _RENDERED),
    # Pages whose HTML has the link but which misbehave in the browser: judged on their own HTML.
    *(
        JsPage(path, note, _RAW, _RAW, _RAW)
        for path, note in (
            ("/loop-with-link", "The link is in the HTML; a script spins forever after load."),
            ("/parse-loop-with-link", "The link is in the HTML; an inline script spins forever, no DOMContentLoaded."),
            ("/download-with-link", "The link is in the HTML; a script navigates to a download while it loads."),
            ("/heap-with-link", "The link is in the HTML; a script exhausts the JS heap and crashes the tab."),
            ("/script-redirect-with-link", "The link is in the HTML; a script redirects to a page without it."),
            ("/dead-redirect-with-link", "The link is in the HTML; a script navigates to a dead URL (chrome-error://)."),
        )
    ),
    JsPage("/dialogs-with-link", "The link is in the HTML; scripts open 1,000 alert()s and 1,000 windows: "
           "dismissed and closed, the render goes on.", _RAW, _RAW, _BOTH_VISIBLE),
    JsPage("/dead-redirect-js-link", "A script navigates to a dead URL at once and would insert the link "
           "later: Chromium's error page is not the page, never a miss.",
           _MISS, ("network_error", None, None), ("network_error", None, None)),
    JsPage("/pushstate", "A script inserts the link and changes the URL with pushState: the same document.",
           _MISS, _RENDERED, _RENDERED),
)

_HIDDEN_STYLE = {
    "display-none": '<a style="display:none" href="{shop}">Example Shop</a>',
    "visibility-hidden": '<a style="visibility:hidden" href="{shop}">Example Shop</a>',
    "zero-size": '<a style="display:block;width:0;height:0;overflow:hidden" href="{shop}">Example Shop</a>',
    "off-screen": '<a style="position:absolute;left:-9999px;top:0" href="{shop}">Example Shop</a>',
    "opacity-zero": '<a style="opacity:0" href="{shop}">Example Shop</a>',
    "hidden-ancestor": '<div class="promo"><span><a href="{shop}">Example Shop</a></span></div>',
    "visible-control": '<a class="plain" href="{shop}">Example Shop</a>',
}


def _doc(title: str, body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{head}</head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _article(title: str, extra: str = "", paragraphs: int = 3) -> str:
    text = "".join(f"<p>{_FILLER}</p>" for _ in range(paragraphs))
    return f"<main><article><h1>{escape(title)}</h1>{text}{extra}</article></main>"


def _insert_script(when: str) -> str:
    """A script that appends a paragraph with the shop's link to the article, ``when`` it runs."""
    add = (
        "const p = document.createElement('p'); p.append('Buy it at ');"
        f"const a = document.createElement('a'); a.href = {SHOP!r}; a.textContent = 'Example Shop';"
        "p.append(a); document.querySelector('article').append(p);"
    )
    return f"<script>{when.replace('ADD', add)}</script>"


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8")


class _State:
    def __init__(self, wait: float) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.wait = wait
        self.kill_browser: Callable[[], None] | None = None


_STATE = web.AppKey("state", _State)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    host, path = request.url.host or "", request.path
    with state.lock:
        state.hits[(host, path)] += 1
    if path == "/robots.txt":
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")
    if path.startswith("/bench/"):
        return _bench_page(path)
    if path.startswith("/hidden/") and path[8:] in _HIDDEN_STYLE:
        link = _HIDDEN_STYLE[path[8:]].format(shop=SHOP)
        style = "<style>.promo{visibility:hidden}.promo span{display:none}</style>"
        return _html(_doc("Hidden", _article("Our sponsors", f"<p>Thanks to {link}.</p>"), style))
    for prefix, handler in (("/slow/", _slow), ("/hang/", _hang), ("/fail/", _fail)):
        if path.startswith(prefix):
            return await handler(request, state)
    page = _PAGES.get(path)
    if page is None:
        raise web.HTTPNotFound()
    return await page(request, state)


async def _static(request: web.Request, state: _State) -> web.StreamResponse:
    return _html(_doc("Static", _article("A static review", f"<p>Bought at {_LINK}.</p>")))


async def _static_no_link(request: web.Request, state: _State) -> web.StreamResponse:
    return _html(_doc("Static", _article("A static review without links")))


async def _after_load(request: web.Request, state: _State) -> web.StreamResponse:
    script = _insert_script("window.addEventListener('load', () => { ADD });")
    return _html(_doc("After load", _article("Inserted after load") + script))


async def _delayed(request: web.Request, state: _State) -> web.StreamResponse:
    delay = 0.3 if request.path == "/delayed-within" else state.wait + 3.0
    script = _insert_script(f"window.addEventListener('load', () => setTimeout(() => {{ ADD }}, {int(delay * 1000)}));")
    return _html(_doc("Delayed", _article("Inserted after a delay") + script))


async def _fetched(request: web.Request, state: _State) -> web.StreamResponse:
    script = (
        "<script>fetch('/api/links.json').then((r) => r.json()).then((links) => {"
        "  const list = document.createElement('ul');"
        "  for (const l of links) { const li = document.createElement('li'); const a = document.createElement('a');"
        "    a.href = l.url; a.textContent = l.text; li.append(a); list.append(li); }"
        "  document.querySelector('article').append(list); });</script>"
    )
    return _html(_doc("Fetched", _article("Partners loaded from JSON") + script))


async def _links_json(request: web.Request, state: _State) -> web.StreamResponse:
    return web.json_response([{"url": SHOP, "text": "Example Shop"}, {"url": "https://other.test/", "text": "Other"}])


def _app_shell(title: str, script: str) -> str:
    body = (
        '<div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript>'
        f"<script>{script}</script>"
    )
    return _doc(title, body)


async def _app(request: web.Request, state: _State) -> web.StreamResponse:
    markup = f'<main><article><h1>App</h1><p>{_FILLER}</p><p>Shop at <a href="{SHOP}">Example Shop</a></p></article></main>'
    script = f"document.getElementById('root').innerHTML = {json.dumps(markup)};"
    return _html(_app_shell("App", script))


async def _removed(request: web.Request, state: _State) -> web.StreamResponse:
    script = "<script>document.querySelectorAll('a.sponsor').forEach((a) => a.remove());</script>"
    body = _article("A link a script removes", f'<p>Thanks to <a class="sponsor" href="{SHOP}">Example Shop</a>.</p>')
    return _html(_doc("Removed", body + script))


async def _scripted_no_link(request: web.Request, state: _State) -> web.StreamResponse:
    script = "<script>document.title = 'Scripted';</script>"
    return _html(_doc("Scripted", _article("Scripts but no link") + script))


async def _never_ends(request: web.Request, state: _State) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    await response.write(b"<!DOCTYPE html><html><head><title>Forever</title></head><body><p>Loading")
    while True:  # until the client gives up (aiohttp cancels the handler)
        await asyncio.sleep(0.2)
        await response.write(b".")


async def _loop(request: web.Request, state: _State) -> web.StreamResponse:
    script = "<script>window.addEventListener('load', () => setTimeout(() => { for (;;) {} }, 0));</script>"
    return _html(_doc("Loop", _article("A page that spins") + script))


async def _crash(request: web.Request, state: _State) -> web.StreamResponse:
    script = (
        "<script>window.addEventListener('load', () => { const hog = [];"
        " for (;;) { hog.push(new Array(1 << 20).fill(hog.length)); } });</script>"
    )
    return _html(_doc("Crash", _article("A page that eats memory") + script))


def _subresources(port: int) -> tuple[str, str]:
    """Forty sub-resources of a real article's kinds: stylesheets that crawl in, scripts and frames
    that never answer, trackers that fail, hosts that refuse connections, images and fonts."""
    slow = [f'<link rel="stylesheet" href="http://cdn{i}.test:{port}/slow/300/site{i}.css">' for i in range(3)]
    hang = [f'<script async src="http://tracker{i}.test:{port}/hang/t{i}.js"></script>' for i in range(8)]
    fail = [f'<script async src="http://ads{i}.test:{port}/fail/a{i}.js"></script>' for i in range(8)]
    dead = [f'<script async src="http://dead{i}.test:1/d{i}.js"></script>' for i in range(6)]
    frames = [f'<iframe src="http://ads{i}.test:{port}/hang/frame{i}.html"></iframe>' for i in range(5)]
    images = [f'<img src="http://img{i}.test:{port}/hang/p{i}.jpg" alt="">' for i in range(10)]
    return "".join(slow), "".join(hang + fail + dead + frames + images)


async def _slow_subresources(request: web.Request, state: _State) -> web.StreamResponse:
    head, body = _subresources(request.url.port or 80)
    script = _insert_script("ADD")
    return _html(_doc("Slow sub-resources", _article("A heavy article", body) + script, head))


async def _late_widget(request: web.Request, state: _State) -> web.StreamResponse:
    port = request.url.port or 80
    late = int((state.wait + 0.8) * 1000)
    widget = f'<script async src="http://widgets.test:{port}/slow/{late}/widget.js"></script>'
    tracker = f'<script async src="http://tracker.test:{port}/hang/t.js"></script>'
    return _html(_doc("Late widget", _article("A widget adds the link") + widget + tracker))


async def _slow(request: web.Request, state: _State) -> web.StreamResponse:
    """``/slow/MS/NAME``: answers after MS milliseconds; ``widget.js`` inserts the shop's link."""
    _, _, ms, name = request.path.split("/", 3)
    await asyncio.sleep(int(ms) / 1000)
    if name == "widget.js":
        add = _insert_script("ADD").removeprefix("<script>").removesuffix("</script>")
        return web.Response(text=add, content_type="application/javascript")
    kind = "text/css" if name.endswith(".css") else "application/javascript"
    return web.Response(text="/* slow */", content_type=kind)


async def _hang(request: web.Request, state: _State) -> web.StreamResponse:
    await asyncio.sleep(3600)  # until the client gives up (aiohttp cancels the handler)
    raise web.HTTPNoContent()


async def _fail(request: web.Request, state: _State) -> web.StreamResponse:
    raise web.HTTPInternalServerError()


def _with_link(title: str, script: str) -> web.Response:
    return _html(_doc(title, _article(title, f"<p>Bought at {_LINK}.</p>") + f"<script>{script}</script>"))


_MISBEHAVING = {
    "/loop-with-link": "window.addEventListener('load', () => setTimeout(() => { for (;;) {} }, 0));",
    "/parse-loop-with-link": "for (;;) {}",
    "/dialogs-with-link": "for (let i = 0; i < 1000; i++) { alert(i); window.open('/static?popup=' + i); }",
    "/download-with-link": "location.href = '/file.bin';",
    "/heap-with-link": "window.addEventListener('load', () => { const hog = [];"
                       " for (;;) { hog.push(new Array(1 << 20).fill(hog.length)); } });",
    "/script-redirect-with-link": "location.replace('/static-no-link');",
    "/dead-redirect-with-link": "window.addEventListener('load', () => { location.href = 'http://dead.test:1/'; });",
}


async def _misbehaving(request: web.Request, state: _State) -> web.StreamResponse:
    return _with_link("Misbehaving", _MISBEHAVING[request.path])


async def _download(request: web.Request, state: _State) -> web.StreamResponse:
    return web.Response(body=bytes(200_000), content_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="file.bin"'})


async def _dead_redirect_js_link(request: web.Request, state: _State) -> web.StreamResponse:
    script = _insert_script("location.href = 'http://dead.test:1/'; setTimeout(() => { ADD }, 2000);")
    return _html(_doc("Dead redirect", _article("Inserted, then gone") + script))


async def _pushstate(request: web.Request, state: _State) -> web.StreamResponse:
    script = _insert_script("ADD history.pushState({}, '', '/pushstate/next');")
    return _html(_doc("pushState", _article("A single-page app") + script))


async def _kill_browser(request: web.Request, state: _State) -> web.StreamResponse:
    """The first visit kills the crawler's browser (see :meth:`JsSite.on_kill_browser`; crawl it with
    ``render=always``); later ones get the link, inserted by a script."""
    with state.lock:
        kill, state.kill_browser = state.kill_browser, None
    if kill is not None:
        kill()
        await asyncio.sleep(5)  # the browser is gone before this answers
    script = _insert_script("window.addEventListener('load', () => { ADD });")
    return _html(_doc("Survivor", _article("After the crash") + script))


_PAGES = {
    "/static": _static,
    "/static-no-link": _static_no_link,
    "/after-load": _after_load,
    "/delayed-within": _delayed,
    "/delayed-beyond": _delayed,
    "/fetched": _fetched,
    "/api/links.json": _links_json,
    "/app": _app,
    "/removed": _removed,
    "/scripted-no-link": _scripted_no_link,
    "/never-ends": _never_ends,
    "/loop": _loop,
    "/crash": _crash,
    "/kill-browser": _kill_browser,
    "/slow-subresources": _slow_subresources,
    "/late-widget": _late_widget,
    **dict.fromkeys(_MISBEHAVING, _misbehaving),
    "/file.bin": _download,
    "/dead-redirect-js-link": _dead_redirect_js_link,
    "/pushstate": _pushstate,
}


# --- The benchmark's pages ---------------------------------------------------------------------------


def _bench_page(path: str) -> web.Response:
    """``/bench/static/N``: a ~10 KiB server-rendered article; ``/bench/js/N``: an app shell whose
    article, link included, exists only after its script ran."""
    _, _, kind, number = path.split("/", 3)
    n = int(number) if number.isdigit() else 0
    nav = "".join(f'<li><a href="/bench/{kind}/{(n + i) % 5000}">Story {(n + i) % 5000}</a></li>' for i in range(1, 21))
    link = f'<p>Our pick this week: <a href="{SHOP}products/{n}">Example Shop item {n}</a>.</p>'
    if kind == "static":
        body = f"<header><nav><ul>{nav}</ul></nav></header>" + _article(f"Story {n}", link, paragraphs=30)
        analytics = "<script>window.dataLayer = window.dataLayer || []; dataLayer.push({page: 'story'});</script>"
        return _html(_doc(f"Story {n}", body + analytics))
    article = f"<main><article><h1>Story {n}</h1>" + f"<p>{_FILLER}</p>" * 30 + link + "</article></main>"
    return _html(_app_shell(f"App {n}", f"document.getElementById('root').innerHTML = {json.dumps(article)};"))


class JsSite(BackgroundServer):
    """The JS web on 127.0.0.1, served from a background thread. ``hits`` counts requests per (host, path)."""

    thread_name = "js-site"

    def __init__(self, wait: float = TEST_WAIT) -> None:
        super().__init__()
        self._state = _State(wait)

    @property
    def hits(self) -> Counter[tuple[str, str]]:
        return self._state.hits

    def url(self, path: str, host: str = "js.test") -> str:
        return f"http://{host}:{self.port}{path}"

    def on_kill_browser(self, kill: Callable[[], None]) -> None:
        """Call ``kill`` (once) when a browser first asks for ``/kill-browser``."""
        with self._state.lock:
            self._state.kill_browser = kill

    def make_app(self) -> web.Application:
        app = web.Application()
        app[_STATE] = self._state
        app.router.add_route("*", "/{tail:.*}", _dispatch)
        return app
