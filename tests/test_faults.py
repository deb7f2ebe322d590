"""One real crawl over a hostile web (tests/support/fault_server.py): every fault gets its inconclusive status.

The crawl runs `scrapy crawl verify` in a child process, as cron would, with a 2 s timeout and an
8 MiB size limit, and with BACKLINKS_CONFIRM_MISSES=1 so that any miss would at once be a false
`lost`. It must finish quickly, stay small, contact nothing forbidden and lose nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler.demo.run import crawl_env
from crawler.cli.exitcode import ExitCode
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Backlink, Check, Run, State
from tests.support.fault_server import FAULTS, REFRESH_TO, TARGET, Fault, FaultServer, Measured, crawl_command, crawl_measured

# The longest fault is the attribute bomb's parse budget (5 s); the rest is start-up (the crawler's
# and its parse workers') and a machine that may be busy with other tests.
MAX_SECONDS = 40
MAX_RSS_MB = 400  # gzip bomb, 64 MiB streams and a 100,000-link page must not balloon memory

SETTINGS = {
    "DOWNLOAD_TIMEOUT": "2",
    "DOWNLOAD_MAXSIZE": str(8 * 1024 * 1024),  # the 100,000-link page is 3.4 MB
    "RETRY_TIMES": "0",
    "BACKLINKS_CONFIRM_MISSES": "1",  # a single miss would be `lost`: no false miss may slip by
    "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
    "BACKLINKS_PARSE_SECONDS": "5",  # the attribute bomb's budget; the 100,000-link page needs ~1 s
}


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("faults")
    server = FaultServer().start()
    try:
        url = f"sqlite:///{workdir / 'backlinks.sqlite'}"
        source = workdir / "faults.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match", "notes"])
            writer.writerows([server.url(f), TARGET, "exact", f.name] for f in FAULTS)
        import_clean(url, source)
        env = crawl_env(url)
        env.update(BACKLINKS_RESOLVE=server.resolve_rules(), BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
        result = crawl_measured(crawl_command(["all=1"], SETTINGS), env, cwd=str(workdir))
        # A web of faults is mostly inconclusive: the run is degraded, and the exit status says so.
        assert result.returncode == ExitCode.DEGRADED, result.stderr[-3000:]
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            states = {
                b.notes: (s.status if s else None, s.reason if s else None)
                for b, s in session.execute(select(Backlink, State).outerjoin(State, State.backlink_id == Backlink.id))
            }
            run = session.scalars(select(Run)).one()
            checks = session.scalar(select(func.count()).select_from(Check))
        engine.dispose()
        yield {"result": result, "states": states, "run": run, "checks": checks, "server": server}
    finally:
        server.stop()


def test_the_crawl_finishes_fast_and_small(faults: dict[str, Any]) -> None:
    result: Measured = faults["result"]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.seconds < MAX_SECONDS
    assert result.max_rss_mb < MAX_RSS_MB
    run = faults["run"]
    assert (run.status, run.finish_reason) == ("finished", "finished")
    assert run.counts["checked"] == len(FAULTS) == faults["checks"]  # one check each, none lost


def test_expected_outcomes_are_not_logged_as_errors(faults: dict[str, Any]) -> None:
    """Every fault here is an expected outcome, stored as its status: an ERROR line in a cron log
    should mean a fault of ours, not a 503 or a timeout of theirs."""
    result: Measured = faults["result"]
    assert [line for line in result.stderr.splitlines() if "] ERROR:" in line] == []


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_fault_gets_its_status(faults: dict[str, Any], fault: Fault) -> None:
    assert faults["states"][fault.name] == fault.expect, fault.note
    hits = faults["server"].hits
    if fault.fetched is not None:
        assert (hits[(fault.name, fault.path)] > 0) is fault.fetched, fault.note


def test_nothing_is_lost_or_missing(faults: dict[str, Any]) -> None:
    statuses = {status for status, _ in faults["states"].values()}
    assert statuses.isdisjoint({"lost", "missing_unconfirmed"})


def test_forbidden_server_is_never_contacted(faults: dict[str, Any]) -> None:
    assert faults["server"].forbidden_connections == 0
    hits = faults["server"].hits
    assert not [key for key in hits if key[0] == "internal"]


def test_robots_failures_keep_the_page_unfetched(faults: dict[str, Any]) -> None:
    hits = faults["server"].hits
    assert hits[("robots-503", "/robots.txt")] == 1 and hits[("robots-503", "/page")] == 0
    assert hits[("robots-timeout", "/robots.txt")] == 1 and hits[("robots-timeout", "/page")] == 0
    assert hits[("robots-404", "/page")] == 1


def test_only_immediate_refreshes_are_followed(faults: dict[str, Any]) -> None:
    hits = faults["server"].hits
    followed = {"refresh-now": 1, "refresh-header-now": 1, "refresh-delayed": 0, "refresh-header-delayed": 0, "refresh-503": 0}
    assert {name: hits[(name, REFRESH_TO)] for name in followed} == followed
