"""Failure is loud: `scrapy crawl verify` exits non-zero, with a documented code, whenever results
were not stored or the run was not whole, and a start-up error is one line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import create_engine, text

from crawler.shell.args import ArgumentError
from crawler.shell.config import SettingsError
from crawler.demo.run import crawl_env
from tests.support.crawls import backlinks_database
from crawler.cli.exitcode import ExitCode, outcome, startup_problem
from crawler.shell.webserver import BackgroundServer
from pipelines.db import SchemaError
from pipelines.runs import RunMismatch

TARGET = "https://client.example/"
STORED = {"backlinks/run_id": 1, "item_scraped_count": 10, "backlinks/stored": 10, "finish_reason": "finished"}


@pytest.mark.parametrize(
    ("stats", "limited", "code", "says"),
    [
        (STORED, False, ExitCode.OK, "ok"),
        ({**STORED, "backlinks/run_status": "finished"}, False, ExitCode.OK, "ok"),
        ({**STORED, "backlinks/run_status": "running"}, False, ExitCode.OK, "ok"),  # others still at work
        ({**STORED, "backlinks/stored": 4}, False, ExitCode.NOT_STORED, "6 results were not stored"),
        ({**STORED, "backlinks/item_errors": 2}, False, ExitCode.NOT_STORED, "2 results were not stored"),
        ({**STORED, "backlinks/stored": 8, "backlinks/store/failed_rows": 2}, False, ExitCode.NOT_STORED, "2 results could not"),
        ({**STORED, "spider_exceptions/count": 1}, False, ExitCode.NOT_STORED, "1 pages failed in the spider"),
        ({**STORED, "finish_reason": "shutdown"}, False, ExitCode.INCOMPLETE, "stopped early (shutdown)"),
        ({**STORED, "finish_reason": "start_error"}, False, ExitCode.INCOMPLETE, "start_error"),
        ({**STORED, "backlinks/run_status": "incomplete"}, False, ExitCode.INCOMPLETE, "work left"),
        ({**STORED, "backlinks/run_status": "incomplete"}, True, ExitCode.OK, "ok"),  # -a limit asked for it
        ({**STORED, "backlinks/run_degraded": 1}, False, ExitCode.DEGRADED, "degraded"),
        ({**STORED, "backlinks/notify/failed": 2}, False, ExitCode.NOT_NOTIFIED, "2 alerts not delivered"),
        ({**STORED, "backlinks/notify/failed": 1, "backlinks/run_degraded": 1}, False, ExitCode.DEGRADED, "alerts not"),
        # The worst wins: lost results over an early stop over a degraded run.
        ({**STORED, "backlinks/stored": 1, "finish_reason": "shutdown", "backlinks/run_degraded": 1}, False,
         ExitCode.NOT_STORED, "9 results were not stored; the crawl stopped early (shutdown); the run is degraded"),
        ({**STORED, "finish_reason": "shutdown", "backlinks/run_degraded": 1}, False, ExitCode.INCOMPLETE, "degraded"),
        # No storage pipeline (items only to a feed): nothing to compare.
        ({"item_scraped_count": 10, "finish_reason": "finished"}, False, ExitCode.OK, "ok"),
    ],
)
def test_exit_code_from_stats(stats: dict, limited: bool, code: ExitCode, says: str) -> None:
    got, why = outcome(stats, limited=limited)
    assert got is code and says in why


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ArgumentError("bad spider argument: -a x: unknown"), "bad spider argument: -a x: unknown"),
        (SettingsError("bad settings:\n  A is wrong\n  B is wrong"), "bad settings: A is wrong; B is wrong"),
        (SchemaError("database sqlite:///x has no schema: run `backlinks init` first"), "run `backlinks init` first"),
        (RunMismatch("run 'k' was started with {}"), "run 'k' was started"),
    ],
)
def test_start_up_errors_are_one_line(error: Exception, line: str) -> None:
    message = startup_problem(error)
    assert message is not None and line in message and "\n" not in message


def test_other_errors_keep_their_traceback() -> None:
    assert startup_problem(KeyError("bug")) is None


# --- Real crawls: the process's exit status ------------------------------------------------------


class Web(BackgroundServer):
    def make_app(self) -> web.Application:
        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=f'<html><body><a href="{TARGET}">us</a></body></html>', content_type="text/html")

        app = web.Application()
        app.router.add_get("/page/{n}", page)
        return app


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    with Web() as server:
        yield server


def _verify(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "verify", "-s", "LOG_LEVEL=WARNING", "-s", "RETRY_TIMES=0", *args]
    return subprocess.run(command, env=crawl_env(url), cwd=cwd, capture_output=True, text=True, timeout=120)


def _pages(site: Web, count: int, host: str = "site") -> list[tuple[str, str, str]]:
    return [(f"http://{host}{n}.test:{site.port}/page/{n}", TARGET, "exact") for n in range(count)]


def test_a_healthy_run_exits_0(site: Web, tmp_path: Path) -> None:
    result = _verify(backlinks_database(tmp_path, _pages(site, 5)), tmp_path, "-a", "all=1")
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]


def test_results_that_could_not_be_stored_exit_3(site: Web, tmp_path: Path) -> None:
    url = backlinks_database(tmp_path, _pages(site, 5))
    engine = create_engine(url)
    with engine.begin() as connection:  # the database refuses one row, as a full disk would
        connection.execute(text(
            "CREATE TRIGGER refuse BEFORE INSERT ON checks WHEN NEW.backlink_id = 3 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        ))
    engine.dispose()
    result = _verify(url, tmp_path, "-a", "all=1")
    assert result.returncode == ExitCode.NOT_STORED, result.stderr[-3000:]
    assert "could not be stored" in result.stderr.splitlines()[-1]


def test_a_crawl_stopped_early_exits_4(site: Web, tmp_path: Path) -> None:
    url = backlinks_database(tmp_path, _pages(site, 5))
    result = _verify(url, tmp_path, "-a", "all=1", "-s", "CLOSESPIDER_ITEMCOUNT=1", "-s", "CONCURRENT_REQUESTS=1")
    assert result.returncode == ExitCode.INCOMPLETE, result.stderr[-3000:]


def test_a_degraded_run_exits_5(site: Web, tmp_path: Path) -> None:
    with Web() as gone:
        dead = _pages(gone, 4, host="dead")  # its port is closed once the server stops
    url = backlinks_database(tmp_path, _pages(site, 1) + dead)
    result = _verify(url, tmp_path, "-a", "all=1")
    assert result.returncode == ExitCode.DEGRADED, result.stderr[-3000:]
    assert "degraded" in result.stderr.splitlines()[-1]


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == ExitCode.STARTUP, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return line


def test_start_up_errors_print_one_line(site: Web, tmp_path: Path) -> None:
    url = backlinks_database(tmp_path, _pages(site, 1))
    assert "-a bogus: unknown argument" in _error_line(_verify(url, tmp_path, "-a", "bogus=1"))
    assert "-a limit:" in _error_line(_verify(url, tmp_path, "-a", "limit=none"))
    assert "BACKLINKS_BATCH_SIZE" in _error_line(_verify(url, tmp_path, "-s", "BACKLINKS_BATCH_SIZE=x"))
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert "run `backlinks init` first" in _error_line(_verify(empty, tmp_path))
    down = "postgresql+psycopg://crawler:s3cret@127.0.0.1:1/backlinks"  # nothing listens on port 1
    line = _error_line(_verify(down, tmp_path))
    assert line.startswith("error: cannot reach database") and "s3cret" not in line
    # A run key in use with other arguments: refused before anything is written.
    assert _verify(url, tmp_path, "-a", "run=nightly", "-a", "all=1").returncode == ExitCode.OK
    assert "every process of a run needs the same arguments" in _error_line(
        _verify(url, tmp_path, "-a", "run=nightly", "-a", "tag=other")
    )
