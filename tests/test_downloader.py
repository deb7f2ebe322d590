"""A download slot's concurrency is kept: a real crawl of one slow host (crawler/shell/upstream.py).

Scrapy 2.19's own downloader started every request waiting in a slot's queue at once; this test
counts, on the server, how many requests to the one host were in progress at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.shell.webserver import BackgroundServer

PAGES = 12


class SlowHost(BackgroundServer):
    """Every page answers after 0.3 s with a link to the shop; counts requests in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.in_progress = self.most = self.served = 0

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/robots.txt", _robots)
        app.router.add_get("/p/{n}", self._page)
        return app

    async def _page(self, _request: web.Request) -> web.Response:
        self.in_progress += 1  # one event loop: no lock needed
        self.most = max(self.most, self.in_progress)
        try:
            await asyncio.sleep(0.3)
        finally:
            self.in_progress -= 1
        self.served += 1
        return web.Response(text='<html><body><a href="https://shop.test/">shop</a></body></html>', content_type="text/html")


async def _robots(_request: web.Request) -> web.Response:
    return web.Response(text="User-agent: *\nAllow: /\n")


@pytest.fixture
def host() -> Iterator[SlowHost]:
    with SlowHost() as server:
        yield server


@pytest.mark.parametrize("per_domain", [1, 2])
def test_a_host_never_gets_more_requests_at_once_than_its_slot_allows(host: SlowHost, tmp_path: Path, per_domain: int) -> None:
    url = backlinks_database(tmp_path, [(f"http://slow.test:{host.port}/p/{n}", "https://shop.test/", "exact") for n in range(PAGES)])
    result = crawl(url, ["all=1", "render=never"], {"CONCURRENT_REQUESTS_PER_DOMAIN": str(per_domain)}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert host.served == PAGES
    assert host.most == per_domain
