"""Scale-out for real: three `scrapy crawl verify` processes share one run on one PostgreSQL.

A farm of 300 sites (600 referring pages) on loopback; the processes join the run by its key and
claim referring domains with short leases. Every due backlink must be checked exactly once, also when
one process is killed mid-run (its domains are claimed again after its lease), and no event may be
written twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.farm import Farm
from sqlalchemy import func, select

from crawler.demo.run import crawl_env
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Check, Event, Run, RunDomain, RunWorker

pytestmark = [pytest.mark.scaleout, pytest.mark.postgres]

SETTINGS = {
    "LOG_LEVEL": "INFO",
    "CONCURRENT_REQUESTS": "16",
    "RETRY_TIMES": "0",
    "DOWNLOAD_TIMEOUT": "10",
    "BACKLINKS_BATCH_SIZE": "20",
    "BACKLINKS_BATCH_SECONDS": "0.5",
    "BACKLINKS_CLAIM_DOMAINS": "10",
    "BACKLINKS_CLAIM_POLL_SECONDS": "0.5",
    "BACKLINKS_LEASE_SECONDS": "4",  # heartbeats every second; a dead process's domains free after 4 s
    "BACKLINKS_RENDER": "never",  # static pages: no browser needed
}


@pytest.fixture
def launch() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """start_verify, with every process it started killed at the end if a test left it running."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(start_verify(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def start_verify(url: str, arguments: list[str], log: Path, settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "scrapy", "crawl", "verify"]
    for name, value in {**SETTINGS, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=crawl_env(url), stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def farm_db(empty_postgres) -> Iterator[tuple[Farm, str, int]]:  # type: ignore[no-untyped-def]
    url = empty_postgres()
    farm = Farm(sites=300, pages=2, delay=0.15).start()
    engine = make_engine(url)
    backlinks = farm.import_into(make_sessionmaker(engine), datetime.now(UTC))
    engine.dispose()
    try:
        yield farm, url, backlinks
    finally:
        farm.stop()


def _wait(processes: list[subprocess.Popen[bytes]], logs: list[Path], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    for process, log in zip(processes, logs, strict=True):
        process.wait(timeout=max(1, deadline - time.monotonic()))
        if process.returncode not in (0, -signal.SIGKILL):
            pytest.fail(f"verify exited {process.returncode}:\n{log.read_text()[-4000:]}")


def _assert_exactly_once(url: str, backlinks: int) -> dict:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        per_backlink = session.execute(select(Check.backlink_id, func.count()).group_by(Check.backlink_id)).all()
        repeated_events = session.execute(
            select(Event.backlink_id, Event.kind, func.count()).group_by(Event.backlink_id, Event.kind).having(func.count() > 1)
        ).all()
        run = session.scalars(select(Run)).one()
        workers = {w.name: (w.status, (w.counts or {}).get("checked", 0)) for w in session.scalars(select(RunWorker))}
        undone = session.scalar(select(func.count()).where(RunDomain.done_at.is_(None)))
        events = dict(session.execute(select(Event.kind, func.count()).group_by(Event.kind)).all())
    engine.dispose()
    assert len(per_backlink) == backlinks, "every due backlink is checked"
    assert {n for _, n in per_backlink} == {1}, "no backlink is checked twice"
    assert repeated_events == []
    assert events == {"first_seen": sum(1 for i in range(backlinks) if i % 7)}  # the linked pages, once each
    assert (run.status, run.counts["checked"], undone) == ("finished", backlinks, 0)
    return {"run": run, "workers": workers}


def test_three_processes_check_every_backlink_exactly_once(farm_db, launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    farm, url, backlinks = farm_db
    logs = [tmp_path / f"verify-{n}.log" for n in range(3)]
    processes = [launch(url, ["run=nightly", "all=1"], log) for log in logs]
    _wait(processes, logs)
    result = _assert_exactly_once(url, backlinks)
    assert len(result["workers"]) == 3
    assert all(status == "finished" for status, _ in result["workers"].values())
    assert sum(checked for _, checked in result["workers"].values()) == backlinks
    # The work was split: each referring page was fetched once in all.
    pages = {key: n for key, n in farm.hits.items() if key[1] != "/robots.txt"}
    assert len(pages) == backlinks and set(pages.values()) == {1}


def test_a_killed_process_leaves_nothing_unchecked(farm_db, launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    farm, url, backlinks = farm_db
    logs = [tmp_path / f"verify-{n}.log" for n in range(3)]
    processes = [launch(url, ["run=nightly", "all=1"], log) for log in logs]
    victim = processes[0]
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    # Kill the victim once it has stored some work and holds domains it has not finished.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            worker = session.scalars(select(RunWorker).where(RunWorker.name.endswith(f":{victim.pid}"))).one_or_none()
            held = worker and session.scalar(
                select(func.count()).where(RunDomain.owner == worker.id, RunDomain.done_at.is_(None))
            )
        if worker is not None and (worker.counts or {}).get("checked", 0) > 0 and held:
            os.kill(victim.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    else:
        pytest.fail("the victim never stored anything")
    engine.dispose()
    _wait(processes, logs)
    assert victim.returncode == -signal.SIGKILL
    result = _assert_exactly_once(url, backlinks)
    statuses = sorted(status for status, _ in result["workers"].values())
    assert statuses == ["finished", "finished", "interrupted"]
    # What the victim had fetched but not stored was fetched again; nothing else was.
    pages = {key: n for key, n in farm.hits.items() if key[1] != "/robots.txt"}
    assert len(pages) == backlinks and max(pages.values()) <= 2
