"""Pages are read in worker processes with a time budget: a page lxml cannot parse in time is
`too_large`, the reactor never waits for it, and SIGTERM stops the crawl with what it has stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from scrapy.utils.defer import deferred_f_from_coro_f
from sqlalchemy import func, select

from crawler.demo.run import crawl_env
from tests.support.crawls import backlinks_database
from crawler.core.items import DueBacklink
from crawler.core.observe import Fetched
from crawler.core.outcome import Status
from crawler.shell.pagepool import PARSE_CRASHED, PARSE_TIMEOUT, Interrupted, OverBudget, PagePool, read_static
from crawler.shell.webserver import BackgroundServer
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Check, Run, State

TARGET = "https://client.example/"
LINK = f'<a href="{TARGET}">our client</a>'


def attribute_bomb(attributes: int) -> str:
    return "<html><body><div " + " ".join(f"a{i}=1" for i in range(attributes)) + ">" + LINK + "</div></body></html>"


def _fetched(html: str, url: str = "http://site.test/page") -> Fetched:
    body = html.encode()
    return Fetched(
        url=url, final_url=url, http_status=200, headers={"content-type": ["text/html; charset=utf-8"]},
        body=body, text=html,
    )


def _kill_self(sig: int) -> None:
    os.kill(os.getpid(), sig)


def _read(pool: PagePool, html: str):  # type: ignore[no-untyped-def]
    backlinks = [DueBacklink(id=1, target_url=TARGET, match="exact")]
    return pool.run(
        read_static, backlinks, _fetched(html), datetime.now(UTC), strip_tracking=True, auto_render=False,
        confirm_by_render=True,
    )


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    pages = PagePool(workers=1, budget=2.0)
    pages.start()
    yield pages
    pages.close()


@deferred_f_from_coro_f
async def test_a_page_over_budget_is_given_up_and_the_next_page_is_read(pool: PagePool) -> None:
    started = time.monotonic()
    with pytest.raises(OverBudget) as caught:
        await _read(pool, attribute_bomb(200_000))  # minutes of lxml
    assert caught.value.reason == PARSE_TIMEOUT
    # The budget (2 s) and a worker's start, even on a busy machine; not the parse (many minutes).
    assert time.monotonic() - started < 30
    # The worker was replaced: the pool goes on reading.
    observations, render = await _read(pool, f"<html><body>{LINK}</body></html>")
    assert [o.status for o in observations] == [Status.LIVE] and render is None


@deferred_f_from_coro_f
async def test_a_worker_that_dies_on_its_page_makes_it_unreadable(pool: PagePool) -> None:
    with pytest.raises(OverBudget) as caught:
        await pool.run(_kill_self, signal.SIGKILL)  # as the kernel's OOM killer would
    assert caught.value.reason == PARSE_CRASHED


@deferred_f_from_coro_f
async def test_a_worker_stopped_with_the_crawl_leaves_its_page_unread(pool: PagePool) -> None:
    # systemd stops a unit by sending SIGTERM to every process: the page is not "too large".
    with pytest.raises(Interrupted):
        await pool.run(_kill_self, signal.SIGTERM)


@deferred_f_from_coro_f
async def test_errors_of_the_extraction_itself_still_surface(pool: PagePool) -> None:
    with pytest.raises(ZeroDivisionError):
        await pool.run(divmod, 1, 0)  # a bug must be loud, never an inconclusive status


# --- A real crawl: a hostile page among good ones, then SIGTERM ----------------------------------


class HostileWeb(BackgroundServer):
    """``/page/N`` links to the target; ``/hostile`` is an attribute bomb, served last (after 1 s).
    ``served`` is set once the bomb has been sent whole."""

    def __init__(self) -> None:
        super().__init__()
        self.served = threading.Event()

    def make_app(self) -> web.Application:
        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=f"<html><body><p>{LINK}</p></body></html>", content_type="text/html")

        async def hostile(request: web.Request) -> web.Response:
            await asyncio.sleep(1)
            response = web.Response(text=attribute_bomb(400_000), content_type="text/html")
            await response.prepare(request)
            await response.write_eof()
            self.served.set()
            return response

        app = web.Application()
        app.router.add_get("/page/{n}", page)
        app.router.add_get("/hostile", hostile)
        return app  # no /robots.txt: 404, everything allowed


GOOD_PAGES = 20


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _workers(pid: int) -> list[int]:
    """The page pool's workers among the children of ``pid`` (spawned: ``spawn_main`` runs them)."""
    found = []
    for child in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except FileNotFoundError:  # gone meanwhile
            continue
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """The CPU time (user and system) the processes have used so far; none for one that is gone."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, the stat fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sigterm_stops_a_crawl_busy_with_a_hostile_page_and_keeps_what_it_stored(tmp_path: Path) -> None:
    with HostileWeb() as server:
        rows = [(f"http://site{n}.test:{server.port}/page/{n}", TARGET, "exact") for n in range(GOOD_PAGES)]
        rows.append((f"http://hostile.test:{server.port}/hostile", TARGET, "exact"))
        url = backlinks_database(tmp_path, rows)
        command = [
            sys.executable, "-m", "scrapy", "crawl", "verify", "-a", "all=1", "-s", "LOG_LEVEL=INFO",
            "-s", "BACKLINKS_PARSE_SECONDS=8",
            "-s", "BACKLINKS_BATCH_SECONDS=0.5",
        ]
        with (tmp_path / "err").open("w") as err:
            process = subprocess.Popen(command, env=crawl_env(url), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
            try:
                engine = make_engine(url)
                sessions = make_sessionmaker(engine)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with sessions() as session:
                        if session.scalar(select(func.count()).select_from(Check)) == GOOD_PAGES:
                            break
                    time.sleep(0.2)
                else:
                    pytest.fail("the good pages were not stored")
                assert server.served.wait(30), "the hostile page was not requested"
                # The good pages are all stored: a worker that burns CPU now is parsing the bomb.
                busy_from = _cpu_seconds(_workers(process.pid))
                while _cpu_seconds(_workers(process.pid)) < busy_from + 0.5:
                    assert time.monotonic() < deadline, "no worker parsed the hostile page"
                    time.sleep(0.05)
                workers = _children(process.pid)
                process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                # Scrapy's graceful stop lets what is in flight finish: the page's budget at most.
                returncode = process.wait(timeout=30)
                stopped_in = time.monotonic() - stopping
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    log = (tmp_path / "err").read_text()
    assert "Traceback" not in log, log[-3000:]
    # No worker left behind. Multiprocessing's resource tracker (a child too) exits once it reads
    # the end of its pipe, a moment after the crawl: a worker left parsing would live for minutes.
    gone_by = time.monotonic() + 5
    while [pid for pid in workers if _alive(pid)] and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert workers and not [pid for pid in workers if _alive(pid)]
    with sessions() as session:
        run = session.scalars(select(Run)).one()
        states = {row[0]: (row[1], row[2]) for row in session.execute(select(State.backlink_id, State.status, State.reason))}
    engine.dispose()
    assert "Received SIGTERM" in log and stopped_in < 20
    assert [states[n + 1] for n in range(GOOD_PAGES)] == [("live", None)] * GOOD_PAGES
    assert states[GOOD_PAGES + 1] == ("too_large", "parse_timeout")
    assert run.finish_reason == "shutdown"
    assert returncode == 4  # stopped before the end: cron hears of it (docs/production.md)
