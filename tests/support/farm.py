"""A farm of many small referring sites on one loopback server, for scale-out tests and benchmarks.

``www.siteNNNN.test`` has ``pages`` pages; every page links to the shop except every ``gone_every``-th,
which does not (a conclusive miss). Pages answer after ``delay`` seconds, so several crawler processes
overlap long enough to be killed mid-run. Every request is counted per (host, path).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from aiohttp import web

from crawler.core.importers import ImportRow
from crawler.core.items import BacklinkIn
from crawler.shell.webserver import BackgroundServer
from pipelines.imports import import_rows

TARGET = "https://www.example-shop.test/"


class Farm(BackgroundServer):
    thread_name = "farm"

    def __init__(self, sites: int, pages: int = 2, delay: float = 0.0, gone_every: int = 7) -> None:
        super().__init__()
        self.sites, self.pages, self.delay, self.gone_every = sites, pages, delay, gone_every
        self.hits: Counter[tuple[str, str]] = Counter()

    def urls(self) -> list[str]:
        return [
            f"http://www.site{site:04d}.test:{self.port}/page/{page}"
            for site in range(self.sites)
            for page in range(self.pages)
        ]

    def linked(self, site: int, page: int) -> bool:
        return (site * self.pages + page) % self.gone_every != 0

    def import_into(self, sessions, now: datetime) -> int:  # type: ignore[no-untyped-def]
        """Import one backlink per page; returns how many."""
        rows = [
            ImportRow(line=n, backlink=BacklinkIn(referring_url=url, target_url=TARGET))
            for n, url in enumerate(self.urls(), start=2)
        ]
        report = import_rows(sessions, rows, now)
        assert report.committed and not report.errors
        return report.added

    async def _page(self, request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        self.hits[(host, request.path)] += 1
        if request.path == "/robots.txt":
            return web.Response(status=404)
        await asyncio.sleep(self.delay)
        site, page = int(host.removeprefix("www.site").removesuffix(".test")), int(request.path.rsplit("/", 1)[1])
        link = f'<a href="{TARGET}">the shop</a>' if self.linked(site, page) else "no link here any more"
        return web.Response(text=f"<html><head><title>{host}</title></head><body><p>{link}</p></body></html>",
                            content_type="text/html")

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._page)
        return app
