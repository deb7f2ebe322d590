"""Empty 200s and delayed refreshes, crawled for real: static (render=never) and in the browser
(render=always). Static crawls of the same cases against a hostile server are in test_faults.py;
here the point is that the browser's view agrees: an empty body is the bare document shell in the
DOM, and a refresh 30 s away never fires during a render.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.shell.webserver import BackgroundServer
from pipelines.db import make_engine, make_sessionmaker
from pipelines.queries import iter_current

TARGET = "https://client.example/"
LINKED = f'<!doctype html><html><head><title>Post</title>{{head}}</head><body><p><a href="{TARGET}">our client</a></p></body></html>'

# path -> (status, reason) stored in every mode
PAGES: dict[str, tuple[str, str | None]] = {
    "/empty": ("server_error", "empty_body"),
    "/blank": ("server_error", "empty_body"),
    "/refresh-late": ("live", None),
    "/refresh-header-late": ("live", None),
}


class BrokenWeb(BackgroundServer):
    thread_name = "broken-web"

    def __init__(self) -> None:
        super().__init__()
        self.hits: Counter[str] = Counter()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve_page)
        return app

    async def _serve_page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path == "/empty":
            return web.Response(body=b"", content_type="text/html")
        if request.path == "/blank":
            return web.Response(text="  \r\n\t\n", content_type="text/html")
        if request.path == "/refresh-late":
            meta = '<meta http-equiv="refresh" content="30; url=/elsewhere">'
            return web.Response(text=LINKED.format(head=meta), content_type="text/html")
        if request.path == "/refresh-header-late":
            return web.Response(text=LINKED.format(head=""), content_type="text/html",
                                headers={"Refresh": "30; url=/elsewhere"})
        return web.Response(status=404, text="not found", content_type="text/plain")


@pytest.fixture(scope="module")
def site() -> Iterator[BrokenWeb]:
    with BrokenWeb() as running:
        yield running


def _crawl(site: BrokenWeb, workdir: Any, mode: str) -> dict[str, tuple[str, str | None]]:
    site.hits.clear()
    url = backlinks_database(workdir, [(f"http://broken.test:{site.port}{path}", TARGET, "exact") for path in PAGES])
    result = crawl(url, ["all=1", f"render={mode}"], {"BACKLINKS_CONFIRM_MISSES": "1", "BACKLINKS_RENDER_WAIT": "1"},
                   timeout=90)
    assert result.returncode == 0, result.stderr[-4000:]
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = {row["referring_url"].rsplit(":", 1)[1].split("/", 1)[1]: (row["status"], row["reason"])
                for row in iter_current(session)}
    engine.dispose()
    return {f"/{path}": outcome for path, outcome in rows.items()}


def test_static_crawl(site: BrokenWeb, tmp_path: Any) -> None:
    assert _crawl(site, tmp_path, "never") == PAGES
    assert site.hits["/elsewhere"] == 0


@pytest.mark.browser
def test_rendered_crawl(browser: str, site: BrokenWeb, tmp_path: Any) -> None:
    assert _crawl(site, tmp_path, "always") == PAGES
    assert site.hits["/elsewhere"] == 0
