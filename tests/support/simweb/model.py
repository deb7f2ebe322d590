"""The simulated web as pure, deterministic functions of a seed: sites, pages, backlinks and markup.

Nothing here does I/O. The server (:mod:`tests.support.simweb.server`) turns a request into
:func:`page_at` + :func:`render`; the backlink generator (:mod:`tests.support.simweb.backlinks`) walks
:func:`page_by_index`. Both derive every decision from ``(seed, site, page number)`` with a
string-seeded :class:`random.Random` (SHA-512 based, so the same in every process), which is why a
crawler run against a server in another process sees exactly the backlinks the generator wrote.

Sites are ``site00042.test`` (registrable domain: the whole host); the user's sites, the targets of
every backlink, are ``www.client007.test``. Page ``n`` of a site lives at ``/blog/{n}/{slug}``, or at
``/private/{n}/{slug}`` (disallowed by that site's robots.txt) for a share of pages.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from html import escape

from crawler.core.items import MatchMode
from crawler.core.outcome import Miss, Status

KIB = 1024


class Kind(str, Enum):
    """What a page does when fetched."""

    OK = "ok"  # 200, static HTML with its backlinks in the markup
    NOINDEX = "noindex"  # 200 with <meta name="robots" content="noindex">
    JS = "js"  # 200, an app shell: the links exist only after JavaScript runs
    REDIRECT = "redirect"  # 301 to /moved/{n} on the same host, which serves the page
    PRIVATE = "private"  # under /private/: refused by the site's robots.txt (if it has one)
    NOT_FOUND = "not_found"  # 404
    GONE = "gone"  # 410
    SERVER_ERROR = "server_error"  # 500 or 503
    FORBIDDEN = "forbidden"  # 403
    EMPTY = "empty"  # 200 with an empty or whitespace-only body (a crashed CMS)
    REFRESH = "refresh"  # 200 with its backlinks and a delayed refresh (meta tag or header) to /moved/{n}


ERROR_STATUS = {Kind.NOT_FOUND: (404,), Kind.GONE: (410,), Kind.SERVER_ERROR: (500, 503), Kind.FORBIDDEN: (403,)}


@dataclass(frozen=True)
class SimConfig:
    """Knobs of the simulated web. Two servers with equal configs serve byte-identical pages."""

    seed: int = 1
    sites: int = 1000  # site00000.test ... ; pages are spread round-robin over them
    latency_ms: float = 0.0  # added before every response, robots.txt included
    jitter_ms: float = 0.0  # uniform +/- around latency_ms, deterministic per URL
    median_kib: float = 100.0  # page sizes are log-normal around this median...
    size_sigma: float = 0.9  # ...with this spread (about 1 page in 1,000 reaches the cap)
    min_kib: float = 4.0
    max_kib: float = 2048.0
    # Shares of pages by kind; the rest are OK.
    js_share: float = 0.04
    noindex_share: float = 0.02
    redirect_share: float = 0.04
    private_share: float = 0.02
    error_share: float = 0.05  # split over 404, 410, 5xx and 403
    empty_share: float = 0.01
    refresh_share: float = 0.01
    # Shares of sites by robots.txt: the rest disallow /private/.
    robots_missing_share: float = 0.1  # robots.txt answers 404: everything allowed
    # Backlinks.
    max_backlinks_per_page: int = 5  # each page carries 1..max known backlinks
    clients: int = 20  # www.client000.test ...: the sites the backlinks point to
    removed_share: float = 0.08  # known backlinks no longer on their page
    nofollow_share: float = 0.15
    # Third-party sub-resources per 200 page (stylesheets, async scripts, frames, images, fonts on
    # cdnNN/trackerNN/adsNN.test), as a real article has 40-80: of them, hanging_share never
    # answer (so the load event never comes), failing_share fail (HTTP 500, or a host that refuses
    # connections), the rest arrive after up to slow_ms.
    subresources: int = 0
    hanging_share: float = 0.15
    failing_share: float = 0.2
    slow_ms: float = 2000.0

    def __post_init__(self) -> None:
        shares = (
            self.js_share + self.noindex_share + self.redirect_share + self.private_share + self.error_share
            + self.empty_share + self.refresh_share
        )
        if not 0 <= shares <= 1:
            raise ValueError(f"page kind shares add up to {shares}, not a value in [0, 1]")
        if self.sites < 1 or self.clients < 1 or self.max_backlinks_per_page < 1:
            raise ValueError("sites, clients and max_backlinks_per_page must be at least 1")


@dataclass(frozen=True)
class SimBacklink:
    """One known backlink of a page, and whether the page still carries it."""

    target_url: str
    match: MatchMode
    anchor: str
    rel: str | None  # "nofollow", "sponsored" or None
    present: bool


@dataclass(frozen=True)
class SimPage:
    seed: int
    site: int
    number: int
    kind: Kind
    status: int
    size: int  # bytes the rendered body aims at (JS shells and error pages are small)
    delay: float  # seconds before the response
    backlinks: tuple[SimBacklink, ...] = field(repr=False)

    @property
    def host(self) -> str:
        return site_host(self.site)

    @property
    def path(self) -> str:
        section = "private" if self.kind is Kind.PRIVATE else "blog"
        return f"/{section}/{self.number}/{_slug(self.seed, self.site, self.number)}"

    @property
    def moved_path(self) -> str:
        """Where a :attr:`Kind.REDIRECT` page redirects to."""
        return f"/moved/{self.number}"

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}{self.path}"


def site_host(site: int) -> str:
    return f"site{site:05d}.test"


_SITE_HOST = re.compile(r"site(\d{5,})\.test")


def parse_host(host: str) -> int | None:
    """The site number of ``site00042.test`` (any port, any case), or None for another host."""
    match = _SITE_HOST.fullmatch(host.lower().partition(":")[0].removesuffix("."))
    return int(match.group(1)) if match else None


def client_host(client: int) -> str:
    return f"www.client{client:03d}.test"


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(map(str, parts)))


def page_by_index(config: SimConfig, index: int) -> SimPage:
    """The ``index``-th page of the web: pages go round-robin over the sites, so any prefix of the
    sequence spreads over as many hosts as possible."""
    return page_at(config, index % config.sites, index // config.sites)


def page_at(config: SimConfig, site: int, number: int) -> SimPage:
    rng = _rng(config.seed, "page", site, number)
    kind = _kind(config, rng.random())
    status = 200
    if kind is Kind.REDIRECT:
        status = 301
    elif kind in ERROR_STATUS:
        status = rng.choice(ERROR_STATUS[kind])
    size = math.exp(math.log(config.median_kib) + config.size_sigma * rng.gauss(0.0, 1.0))
    size = int(min(max(size, config.min_kib), config.max_kib) * KIB)
    jitter = rng.uniform(-config.jitter_ms, config.jitter_ms)
    delay = max(0.0, config.latency_ms + jitter) / 1000
    return SimPage(config.seed, site, number, kind, status, size, delay, _backlinks(config, rng))


def _kind(config: SimConfig, draw: float) -> Kind:
    for kind, share in (
        (Kind.JS, config.js_share),
        (Kind.NOINDEX, config.noindex_share),
        (Kind.REDIRECT, config.redirect_share),
        (Kind.PRIVATE, config.private_share),
    ):
        if draw < share:
            return kind
        draw -= share
    if draw < config.error_share:
        # Spread errors evenly over the four error kinds.
        errors = (Kind.NOT_FOUND, Kind.GONE, Kind.SERVER_ERROR, Kind.FORBIDDEN)
        return errors[min(int(draw / config.error_share * len(errors)), len(errors) - 1)]
    draw -= config.error_share
    # Drawn after the others, so adding them changed no page of another kind (only some OK ones).
    for kind, share in ((Kind.EMPTY, config.empty_share), (Kind.REFRESH, config.refresh_share)):
        if draw < share:
            return kind
        draw -= share
    return Kind.OK


def _backlinks(config: SimConfig, rng: random.Random) -> tuple[SimBacklink, ...]:
    count = rng.randint(1, config.max_backlinks_per_page)
    # Distinct targets on one page: (client, product) drawn without replacement.
    slots = rng.sample(range(config.clients * 1000), count)
    out = []
    domains: set[int] = set()
    for slot in slots:
        client, product = divmod(slot, 1000)
        mode_draw = rng.random()
        if mode_draw < 0.8:
            match, path = MatchMode.EXACT, f"/products/{product}"
        elif mode_draw < 0.9:
            match, path = MatchMode.PREFIX, f"/guides/{product}/"
        elif client not in domains:  # one domain backlink per client and page: they are one identity
            domains.add(client)
            match, path = MatchMode.DOMAIN, "/"
        else:
            match, path = MatchMode.EXACT, f"/products/{product}"
        rel_draw = rng.random()
        rel = "nofollow" if rel_draw < config.nofollow_share else None
        if rel is None and rel_draw < config.nofollow_share + 0.03:
            rel = "sponsored"
        out.append(
            SimBacklink(
                target_url=f"https://{client_host(client)}{path}",
                match=match,
                anchor=" ".join(rng.choices(_WORDS, k=rng.randint(1, 4))).capitalize(),
                rel=rel,
                present=rng.random() >= config.removed_share,
            )
        )
    return tuple(out)


def robots_txt(config: SimConfig, site: int) -> str | None:
    """The site's robots.txt, or None when it has none (the server answers 404)."""
    if _rng(config.seed, "robots", site).random() < config.robots_missing_share:
        return None
    return (
        "# robots.txt for " + site_host(site) + "\n"
        "User-agent: *\n"
        "Disallow: /private/\n"
        "Disallow: /cart\n"
        "Disallow: /search?\n"
        "\n"
        "User-agent: GPTBot\n"
        "Disallow: /\n"
        "\n"
        f"Sitemap: http://{site_host(site)}/sitemap.xml\n"
    )


def _refresh(page: SimPage) -> str | None:
    """A REFRESH page's refresh, 10 to 99 seconds late: a visitor reads the page first."""
    if page.kind is not Kind.REFRESH:
        return None
    return f"{10 + page.number % 90}; url={page.moved_path}"


def refresh_meta(page: SimPage) -> str:
    """Half of the REFRESH pages declare it in the markup..."""
    refresh = _refresh(page)
    return f'<meta http-equiv="refresh" content="{refresh}">\n' if refresh and page.number % 2 == 0 else ""


def refresh_header(page: SimPage) -> dict[str, str]:
    """...and half in a ``Refresh`` response header."""
    refresh = _refresh(page)
    return {"Refresh": refresh} if refresh and page.number % 2 == 1 else {}


def empty_body(page: SimPage) -> str:
    """What an EMPTY page sends: nothing, or whitespace only."""
    return "" if page.number % 2 == 0 else " \n\t\n"


# --- Markup ------------------------------------------------------------------------------------------

_WORDS = (
    "the of and to in is for that on with as was by at it from this be are an or have not but which one "
    "all were we when there can more if no out so said what up its about into than them only other new some "
    "could time these two may first then do any like my now over such our man me even most made after also "
    "did many before must through back years where much your way well down should because each just those "
    "people how too little state good very make world still own see men work long get here between both life "
    "being under never day same another know while last might us great old year off come since against go "
    "came right used take three garden kitchen review guide budget travel recipe science history market "
    "design software hardware weekend summer winter city river mountain coffee bicycle camera library "
    "museum festival coastline harvest village engine battery window theatre"
).split()


def _slug(seed: int, site: int, number: int) -> str:
    rng = _rng(seed, "slug", site, number)
    return "-".join(rng.choices(_WORDS[60:], k=rng.randint(2, 5)))


class _Parts:
    """Pre-built blocks of markup, drawn once per seed; pages are assembled from them by index.

    Building a 100 KiB page word by word would cost the server more CPU than the crawler spends
    reading it; joining pre-built blocks costs microseconds, so the server never is the bottleneck.
    """

    def __init__(self, seed: int) -> None:
        rng = _rng(seed, "parts")
        self.paragraphs = [self._paragraph(rng, i) for i in range(400)]
        self.scripts = [self._script(rng, i) for i in range(24)]
        self.styles = [self._style(rng, i) for i in range(8)]
        self.navs = [self._nav(rng, i) for i in range(16)]
        self.footers = [self._footer(rng, i) for i in range(16)]
        self.asides = [self._aside(rng, i) for i in range(32)]

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        words = rng.choices(_WORDS, k=rng.randint(8, 22))
        return " ".join(words).capitalize() + rng.choice((".", ".", ".", "?", "!"))

    def _paragraph(self, rng: random.Random, i: int) -> str:
        pieces = []
        for _ in range(rng.randint(3, 8)):
            pieces.append(escape(self._sentence(rng)))
            draw = rng.random()
            if draw < 0.25:
                pieces.append(f'<a href="/blog/{rng.randrange(10_000)}/{rng.choice(_WORDS[60:])}">'
                              f"{' '.join(rng.choices(_WORDS, k=3))}</a>")
            elif draw < 0.4:
                other = site_host(rng.randrange(100_000))
                pieces.append(f'<a href="https://{other}/{rng.choice(_WORDS[60:])}" rel="noopener">'
                              f"{rng.choice(_WORDS)}</a>")
            elif draw < 0.45:
                pieces.append(f"<strong>{' '.join(rng.choices(_WORDS, k=2))}</strong>")
        tag = "h2" if i % 9 == 0 else "p"
        heading = f"<h3>{escape(self._sentence(rng)[:60])}</h3>\n" if i % 5 == 0 else ""
        return f'{heading}<{tag} class="c{i % 7}">{" ".join(pieces)}</{tag}>\n'

    @staticmethod
    def _script(rng: random.Random, i: int) -> str:
        # Inline scripts and JSON blobs are a third of a typical page's bytes.
        data = {f"k{j}": [rng.randrange(10**6) for _ in range(rng.randint(4, 20))] for j in range(rng.randint(10, 60))}
        return (
            f'<script type="application/json" id="state-{i}">{json.dumps(data)}</script>\n'
            f"<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}"
            f"gtag('js',new Date());gtag('config','G-{rng.randrange(10**8):08d}');</script>\n"
        )

    @staticmethod
    def _style(rng: random.Random, i: int) -> str:
        rules = "".join(
            f".c{j}-{i}{{margin:{rng.randint(0, 40)}px;padding:{rng.randint(0, 20)}px;color:#{rng.randrange(16**6):06x}}}"
            for j in range(rng.randint(40, 120))
        )
        return f"<style>{rules}</style>\n"

    @staticmethod
    def _nav(rng: random.Random, i: int) -> str:
        items = "".join(
            f'<li><a href="/{rng.choice(_WORDS[60:])}/{j}">{rng.choice(_WORDS[60:]).title()}</a></li>'
            for j in range(rng.randint(20, 50))
        )
        return f'<header class="site-header"><nav aria-label="main"><ul class="menu">{items}</ul></nav></header>\n'

    @staticmethod
    def _footer(rng: random.Random, i: int) -> str:
        items = "".join(
            f'<li><a href="https://{site_host(rng.randrange(100_000))}/">{rng.choice(_WORDS[60:])}</a></li>'
            if j % 4 == 0
            else f'<li><a href="/about/{rng.choice(_WORDS[60:])}">{rng.choice(_WORDS[60:]).title()}</a></li>'
            for j in range(rng.randint(15, 40))
        )
        return f'<footer class="site-footer"><ul>{items}</ul><p>&copy; 2026 All rights reserved.</p></footer>\n'

    def _aside(self, rng: random.Random, i: int) -> str:
        items = "".join(
            f'<li><a href="/blog/{rng.randrange(10_000)}/{rng.choice(_WORDS[60:])}">'
            f"{escape(self._sentence(rng)[:50])}</a></li>"
            for _ in range(rng.randint(5, 15))
        )
        return f'<aside class="related"><h4>Related</h4><ul>{items}</ul></aside>\n'


class Renderer:
    """Renders pages of one seed; build one per server (the blocks cost ~50 ms to draw)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @cached_property
    def _parts(self) -> _Parts:
        return _Parts(self.seed)

    def page(self, page: SimPage, sub: tuple[str, str] = ("", "")) -> str:
        """The HTML of a 200 page (OK, NOINDEX, PRIVATE, or the target of a REDIRECT); ``sub``:
        markup of its sub-resources for the head and the body (:func:`subresource_markup`)."""
        if page.kind is Kind.JS:
            return self._app_shell(page, sub)
        parts = self._parts
        rng = _rng(page.seed, "body", page.site, page.number)
        title = escape(_slug(page.seed, page.site, page.number).replace("-", " ").title())
        robots = '<meta name="robots" content="noindex,follow">\n' if page.kind is Kind.NOINDEX else ""
        canonical = page.moved_path if page.kind is Kind.REDIRECT else page.path
        head = (
            "<!DOCTYPE html>\n<html lang=\"en\"><head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title} | {page.host}</title>\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="description" content="{title}: notes, reviews and links.">\n{robots}{refresh_meta(page)}'
            f'<link rel="canonical" href="{canonical}">\n'
            '<link rel="stylesheet" href="/static/site.css">\n'
            f"{sub[0]}{rng.choice(parts.styles)}{rng.choice(parts.scripts)}</head>\n"
            f'<body class="post">\n{rng.choice(parts.navs)}<main><article><h1>{title}</h1>\n'
        )
        tail = f"</article>\n{rng.choice(parts.asides)}</main>\n{rng.choice(parts.footers)}{sub[1]}</body></html>\n"
        budget = page.size - len(head) - len(tail)
        blocks: list[str] = []
        while budget > 0:
            block = rng.choice(parts.scripts) if rng.random() < 0.12 else rng.choice(parts.paragraphs)
            blocks.append(block)
            budget -= len(block)
        # Each present backlink sits in its own paragraph somewhere in the article body.
        for backlink in page.backlinks:
            if backlink.present:
                blocks.insert(rng.randrange(len(blocks) + 1), _backlink_paragraph(rng, backlink))
        # Markup that parsers read differently from browsers, drawn apart so that no other page changes.
        variant = _rng(page.seed, "markup", page.site, page.number)
        for backlink in page.backlinks:
            if not backlink.present and variant.random() < 0.5:
                # A removed link kept in a <template>: inert, in no browser's DOM, so still removed.
                blocks.insert(variant.randrange(len(blocks) + 1), f"<template>{_backlink_paragraph(variant, backlink)}</template>\n")
        return head + "".join(_svg_links(variant, blocks)) + tail

    def _app_shell(self, page: SimPage, sub: tuple[str, str] = ("", "")) -> str:
        """A client-side rendered page: the article and its links arrive as data for a script."""
        links = [
            {"href": b.target_url, "text": b.anchor, "rel": b.rel or ""} for b in page.backlinks if b.present
        ]
        data = json.dumps({"title": page.path, "links": links}).replace("</", "<\\/")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Loading...</title>\n"
            f'<script src="/static/app.js" defer></script>{sub[0]}</head>\n'
            '<body><div id="root"></div>\n'
            f'<script id="data" type="application/json">{data}</script>\n'
            "<script>(function(){var d=JSON.parse(document.getElementById('data').textContent);"
            "var r=document.getElementById('root');d.links.forEach(function(l){"
            "var p=document.createElement('p');var a=document.createElement('a');a.href=l.href;"
            "a.textContent=l.text;if(l.rel){a.rel=l.rel;}p.appendChild(a);r.appendChild(p);});})();</script>\n"
            f"{sub[1]}</body></html>\n"
        )


# Where each sub-resource goes and how it is written; stylesheets sit in the head, the rest at the
# end of the body, as real pages do.
_SUB_KINDS = (
    ("cdn", "css", '<link rel="stylesheet" href="{url}">'),
    ("tracker", "js", '<script async src="{url}"></script>'),
    ("ads", "js", '<script async src="{url}"></script>'),
    ("ads", "html", '<iframe src="{url}" width="300" height="250"></iframe>'),
    ("img", "jpg", '<img src="{url}" alt="" width="120" height="80">'),
    ("img", "jpg", '<img src="{url}" alt="" width="120" height="80">'),
    ("fonts", "woff2", '<link rel="preload" as="font" crossorigin href="{url}">'),
)
SUB_PREFIX = "/sub/"


def subresource_markup(config: SimConfig, page: SimPage, port: int) -> tuple[str, str]:
    """The head and body markup of ``page``'s third-party sub-resources (see ``SimConfig.subresources``).

    A URL says how it is served: ``/sub/slow/MS/NAME`` after MS milliseconds, ``/sub/hang/NAME``
    never, ``/sub/fail/NAME`` with a 500; a failing one may instead name port 1, where nothing
    listens. Stylesheets are never left hanging (one would hold DOMContentLoaded for good).
    """
    if config.subresources <= 0:
        return "", ""
    rng = _rng(page.seed, "sub", page.site, page.number)
    head, body = [], []
    for i in range(config.subresources):
        prefix, ext, markup = _SUB_KINDS[i % len(_SUB_KINDS)]
        host = f"{prefix}{rng.randrange(40):02d}.test"
        name = f"r{i}.{ext}"
        draw = rng.random()
        if ext == "css":
            url = f"http://{host}:{port}{SUB_PREFIX}slow/{int(rng.uniform(20, min(config.slow_ms, 500)))}/{name}"
        elif draw < config.hanging_share:
            url = f"http://{host}:{port}{SUB_PREFIX}hang/{name}"
        elif draw < config.hanging_share + config.failing_share:
            url = f"http://{host}:1/{name}" if rng.random() < 0.5 else f"http://{host}:{port}{SUB_PREFIX}fail/{name}"
        else:
            url = f"http://{host}:{port}{SUB_PREFIX}slow/{int(rng.uniform(20, config.slow_ms))}/{name}"
        (head if ext == "css" else body).append(markup.format(url=url) + "\n")
    return "".join(head), "".join(body)


def _backlink_paragraph(rng: random.Random, backlink: SimBacklink) -> str:
    rel = f' rel="{backlink.rel}"' if backlink.rel else ""
    before = " ".join(rng.choices(_WORDS, k=rng.randint(6, 16))).capitalize()
    after = " ".join(rng.choices(_WORDS, k=rng.randint(6, 16)))
    return f'<p>{before} <a href="{escape(backlink.target_url)}"{rel}>{escape(backlink.anchor)}</a> {after}.</p>\n'


def _svg_links(rng: random.Random, blocks: list[str]) -> list[str]:
    """One plain link in ten at the start of a paragraph's markup (backlinks without rel among them)
    as an SVG link (``<a xlink:href>``), as inline icons and charts carry them: a link like any other."""
    out = []
    for block in blocks:
        found = _PLAIN_LINK.search(block) if block.startswith("<p>") else None
        if found and rng.random() < 0.1:
            href, anchor = found.groups()
            svg = (
                '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="240" height="20">'
                f'<title>icon</title><a xlink:href="{href}"><text x="0" y="15">{anchor}</text></a></svg>'
            )
            block = block[: found.start()] + svg + block[found.end() :]
        out.append(block)
    return out


_PLAIN_LINK = re.compile(r'<a href="([^"]*)">([^<]*)</a>')


def expected(page: SimPage, backlink: SimBacklink, *, robots: bool) -> tuple[Status, str | None]:
    """What a static (non-rendering) check of ``backlink`` on ``page`` observes: status and reason.

    ``robots``: whether the page's site serves a robots.txt (see :func:`robots_txt`).
    """
    if page.kind is Kind.PRIVATE and robots:
        return Status.BLOCKED_ROBOTS, "robots.txt"
    if page.kind in (Kind.NOT_FOUND, Kind.GONE):
        return Status.MISSING_UNCONFIRMED, Miss.PAGE_NOT_FOUND.value
    if page.kind is Kind.SERVER_ERROR:
        return Status.SERVER_ERROR, str(page.status)
    if page.kind is Kind.FORBIDDEN:
        return Status.BLOCKED_BOT, str(page.status)
    if page.kind is Kind.EMPTY:
        return Status.SERVER_ERROR, "empty_body"
    if page.kind is not Kind.JS and _carried(page, backlink):
        return Status.LIVE, None
    if page.kind is Kind.REDIRECT:
        return Status.MISSING_UNCONFIRMED, Miss.PAGE_REDIRECTED.value
    if page.kind is Kind.NOINDEX:
        return Status.MISSING_UNCONFIRMED, Miss.NOINDEX.value
    return Status.MISSING_UNCONFIRMED, Miss.LINK_REMOVED.value


def _carried(page: SimPage, backlink: SimBacklink) -> bool:
    """Whether a link on the page matches the backlink: its own, or for a ``domain`` backlink any
    present link to the same client site."""
    if backlink.present:
        return True
    if backlink.match is not MatchMode.DOMAIN:
        return False
    host = backlink.target_url.split("/")[2]
    return any(b.present and b.target_url.split("/")[2] == host for b in page.backlinks)


def error_page(status: int) -> str:
    return f"<!DOCTYPE html>\n<html><head><title>{status}</title></head><body><h1>Error {status}</h1></body></html>\n"
