"""The simulated web served on loopback: one aiohttp application answering every ``siteNNNNN.test`` Host.

Two ways to run it:

- :class:`SimWeb`: in a background thread of the calling process (tests).
- :class:`SimWebProcess`: ``python -m tests.support.simweb`` in a child process (benchmarks), so that
  serving pages does not share a core, or the GIL, with the crawler being measured.

Crawlers reach it with ``BACKLINKS_RESOLVE="*.test=127.0.0.1"``, which the plain handler's resolver
and the browser's guard proxy both apply; URLs keep the server's port.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from dataclasses import asdict, fields
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

from tests.support.simweb.model import (
    SUB_PREFIX,
    Kind,
    Renderer,
    SimConfig,
    SimPage,
    error_page,
    empty_body,
    page_at,
    parse_host,
    refresh_header,
    robots_txt,
    subresource_markup,
)
from crawler.shell.webserver import BackgroundServer

CHECKOUT = Path(__file__).resolve().parents[3]  # tests/support/simweb/server.py

_CONFIG = web.AppKey("config", SimConfig)
_RENDERER = web.AppKey("renderer", Renderer)
_HITS = web.AppKey("hits", Counter)
_HTML = "text/html"


def make_app(config: SimConfig, hits: Counter[str] | None = None) -> web.Application:
    """The aiohttp application; ``hits``, when given, counts responses by kind (and "robots")."""
    app = web.Application()
    app[_CONFIG] = config
    app[_RENDERER] = Renderer(config.seed)
    app[_HITS] = hits if hits is not None else Counter()
    app.router.add_route("GET", "/{tail:.*}", _dispatch)
    return app


async def _dispatch(request: web.Request) -> web.StreamResponse:
    config, hits = request.app[_CONFIG], request.app[_HITS]
    if request.path.startswith(SUB_PREFIX):  # a sub-resource, on any host
        return await _subresource(request, hits)
    site = parse_host(request.host)
    if site is None or site >= config.sites:
        hits["unknown"] += 1
        return web.Response(status=404, text=error_page(404), content_type=_HTML)
    path = request.path
    if path == "/robots.txt":
        hits["robots"] += 1
        await _sleep(config.latency_ms / 1000)
        body = robots_txt(config, site)
        if body is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        return web.Response(text=body, content_type="text/plain")
    page = _page_for(config, site, path)
    if page is None:
        hits["unknown"] += 1
        return web.Response(status=404, text=error_page(404), content_type=_HTML)
    moved = path == page.moved_path
    hits["moved" if moved else page.kind.value] += 1
    await _sleep(page.delay)
    if page.kind is Kind.REDIRECT and not moved:
        raise web.HTTPMovedPermanently(location=page.moved_path)
    if page.kind in (Kind.EMPTY, Kind.REFRESH):
        return _broken_200(request, page)
    if page.status >= 400:
        return web.Response(status=page.status, text=error_page(page.status), content_type=_HTML)
    sub = subresource_markup(config, page, request.url.port or 80)
    return web.Response(text=request.app[_RENDERER].page(page, sub), content_type=_HTML, charset="utf-8")


_SUB_TYPES = {"css": "text/css", "js": "application/javascript", "html": _HTML, "jpg": "image/jpeg",
              "woff2": "font/woff2"}


async def _subresource(request: web.Request, hits: Counter[str]) -> web.StreamResponse:
    """``/sub/slow/MS/NAME``, ``/sub/hang/NAME``, ``/sub/fail/NAME`` (see model.subresource_markup)."""
    parts = request.path[len(SUB_PREFIX):].split("/")
    how = parts[0]
    hits[f"sub_{how}"] += 1
    if how == "hang":
        await asyncio.sleep(3600)  # until the client goes away (aiohttp cancels the handler)
    if how != "slow" or len(parts) < 3 or not parts[1].isdigit():
        return web.Response(status=500, text="Internal Server Error", content_type="text/plain")
    await _sleep(int(parts[1]) / 1000)
    kind = _SUB_TYPES.get(parts[-1].rsplit(".", 1)[-1], "application/octet-stream")
    return web.Response(text="/* sub-resource */" if kind != _HTML else "<p>ad</p>", content_type=kind)


def _broken_200(request: web.Request, page: SimPage) -> web.Response:
    """An EMPTY page's empty 200, or a REFRESH page with its refresh header (if not in its markup)."""
    if page.kind is Kind.EMPTY:
        return web.Response(text=empty_body(page), content_type=_HTML, charset="utf-8")
    return web.Response(
        text=request.app[_RENDERER].page(page), content_type=_HTML, charset="utf-8", headers=refresh_header(page)
    )


def _page_for(config: SimConfig, site: int, path: str) -> SimPage | None:
    """The page ``path`` names on ``site``: /blog/N/slug, /private/N/slug or /moved/N."""
    parts = path.split("/")
    if len(parts) < 3 or not parts[2].isdigit():
        return None
    page = page_at(config, site, int(parts[2]))
    if path == page.path or (page.kind is Kind.REDIRECT and path == page.moved_path):
        return page
    return None


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


class SimWeb(BackgroundServer):
    """The simulated web in a background thread with its own event loop; a context manager.

    ``hits`` counts responses by page kind (``ok``, ``js``...), ``robots`` and ``unknown``; read it
    from the calling thread when the crawl is over.
    """

    thread_name = "simweb"

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.config = config or SimConfig()
        self.hits: Counter[str] = Counter()

    def make_app(self) -> web.Application:
        return make_app(self.config, self.hits)


def config_arguments(config: SimConfig) -> list[str]:
    """``python -m tests.support.simweb`` options that reproduce ``config``."""
    out = []
    for name, value in asdict(config).items():
        out += [f"--{name.replace('_', '-')}", str(value)]
    return out


def config_from_arguments(values: dict[str, str]) -> SimConfig:
    """The inverse of :func:`config_arguments`: option values (strings) -> :class:`SimConfig`."""
    kinds = {f.name: f.type for f in fields(SimConfig)}
    return SimConfig(**{name: (int if kinds[name] in (int, "int") else float)(v) for name, v in values.items()})


class SimWebProcess:
    """``python -m tests.support.simweb`` in a child process; a context manager that knows its port."""

    def __init__(self, config: SimConfig | None = None, port: int = 0) -> None:
        self.config = config or SimConfig()
        self.requested_port = port
        self.port = 0
        self.returncode: int | None = None  # once stopped: 0 for a clean shutdown
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        command = [sys.executable, "-m", "tests.support.simweb", "--port", str(self.requested_port)]
        self._process = subprocess.Popen(
            # From the checkout's root: tests.support is found there, and is never installed.
            command + config_arguments(self.config), stdout=subprocess.PIPE, text=True, cwd=CHECKOUT
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"simweb did not start (first line: {line!r})")
        self.port = int(line)
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        self.returncode = self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
