"""robots.txt in a real crawl: `scrapy crawl verify` in a child process against hosts on 127.0.0.1.

Each host serves its own robots.txt, half a second late, so every page of a host reaches the robots
policy while its robots.txt is still on its way (the case where all but the first waiter used to
read "no rules, all allowed"). Every request is counted: a disallowed page must never be fetched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.cli.exitcode import ExitCode
from crawler.shell.webserver import BackgroundServer
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Backlink, State

TARGET = "https://client.example/"
ROBOTS_DELAY = 0.5

# host -> (robots.txt, the pages carrying a backlink, the status each must get)
HOSTS: dict[str, tuple[str, list[str], str]] = {
    # Ten pages under /private/ requested at once: every one of them is blocked.
    "many.test": ("User-agent: *\nDisallow: /private/\n", [f"/private/{n}" for n in range(10)], "blocked_robots"),
    "many-public.test": ("User-agent: *\nDisallow: /private/\n", [f"/public/{n}" for n in range(4)], "live"),
    # Our group is the one naming our product token, not the longest name found in our User-Agent.
    "token.test": ("User-agent: BacklinksVerify\nDisallow: /\n\nUser-agent: backlinks-verify\nAllow: /\n", ["/page"], "blocked_robots"),
    "versioned.test": ("User-agent: *\nAllow: /\n\nUser-agent: BacklinksVerify/2.0\nDisallow: /\n", ["/page"], "blocked_robots"),
    # Words of our User-Agent header that are not our product token name other crawlers' groups.
    "mozilla.test": ("User-agent: Mozilla\nDisallow: /\n\nUser-agent: compatible\nDisallow: /\n\n"
                     "User-agent: github\nDisallow: /\n", ["/page"], "live"),
    "prefix.test": ("User-agent: backlinks\nDisallow: /\n", ["/page"], "live"),
}


class RobotsWeb(BackgroundServer):
    thread_name = "robots-web"

    def __init__(self) -> None:
        super().__init__()
        self.hits: Counter[tuple[str, str]] = Counter()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve_page)
        return app

    async def _serve_page(self, request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        self.hits[(host, request.path)] += 1
        if request.path == "/robots.txt":
            await asyncio.sleep(ROBOTS_DELAY)
            return web.Response(text=HOSTS[host][0], content_type="text/plain")
        return web.Response(text=f'<html><body><p><a href="{TARGET}">our client</a></p></body></html>',
                            content_type="text/html")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir: Path = tmp_path_factory.mktemp("robots-crawl")
    with RobotsWeb() as site:
        rows = [(f"http://{host}:{site.port}{path}", TARGET, "exact") for host, (_, paths, _) in HOSTS.items() for path in paths]
        url = backlinks_database(workdir, rows)
        result = crawl(url, ["all=1"], cwd=workdir)
        # Most of these pages are disallowed, so most results are inconclusive: a degraded run.
        assert result.returncode == ExitCode.DEGRADED, result.stderr[-3000:]
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            states = {b.referring_url: (s.status, s.reason) for b, s in session.execute(
                select(Backlink, State).join(State, State.backlink_id == Backlink.id))}
        engine.dispose()
        yield {"states": states, "hits": site.hits, "port": site.port}


@pytest.mark.parametrize("host", HOSTS)
def test_each_host_gets_its_robots_verdict(crawled: dict[str, Any], host: str) -> None:
    _, paths, status = HOSTS[host]
    port = crawled["port"]
    got = {path: crawled["states"][f"http://{host}:{port}{path}"][0] for path in paths}
    assert got == dict.fromkeys(paths, status)
    fetched = {path for (h, path), _n in crawled["hits"].items() if h == host and path != "/robots.txt"}
    assert fetched == (set(paths) if status == "live" else set())
    assert crawled["hits"][(host, "/robots.txt")] == 1  # once per host, however many pages wait
