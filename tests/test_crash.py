"""Crash safety: `kill -9` a crawl mid-run, start it again, and nothing is lost, doubled or corrupt.

Two hundred pages on 40 hosts of tests/support/fault_server.py answer after 20 ms; batches of 10 commit
as the crawl goes. While it runs, readers check in one statement that every committed check has
its state (a batch is one transaction), and `backlinks export` runs alongside.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from crawler.demo.run import crawl_env
from tests.support.fault_server import TARGET, FaultServer, crawl_command
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Backlink, Check, Event, Run, State

PAGES = 600  # many more than are stored before the kill: the kill lands mid-run even when batches land in bursts
HOSTS = 40
KILL_AFTER = 40  # checks committed before the crawl is killed
SETTINGS = {"BACKLINKS_BATCH_SIZE": "10", "CONCURRENT_REQUESTS": "16", "DOWNLOAD_TIMEOUT": "10", "RETRY_TIMES": "0"}

# One statement, so one snapshot on SQLite and PostgreSQL alike: the checks of the latest run, and
# the states whose last check is one of them. Both are written in one transaction per batch.
CONSISTENT = text(
    "SELECT (SELECT count(*) FROM checks WHERE run_id = r.id),"
    " (SELECT count(*) FROM states s JOIN checks c ON c.id = s.last_check_id WHERE c.run_id = r.id)"
    " FROM runs r ORDER BY r.id DESC LIMIT 1"
)


@pytest.fixture
def site() -> Iterator[FaultServer]:
    server = FaultServer().start()
    server.latency = 0.02
    yield server
    server.stop()


def _prepare(db_url: str, site: FaultServer, workdir: Path) -> None:
    source = workdir / "pages.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match"])
        writer.writerows([site.site_url(i, HOSTS), TARGET, "exact"] for i in range(PAGES))
    assert import_clean(db_url, source).added == PAGES


def _env(db_url: str, site: FaultServer) -> dict[str, str]:
    env = crawl_env(db_url)
    env.update(BACKLINKS_RESOLVE=site.resolve_rules(), BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
    return env


def _checks(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Check)) or 0


def _assert_consistent(engine: Engine) -> None:
    with engine.connect() as connection:
        row = connection.execute(CONSISTENT).first()
    if row is not None:
        checks, states = row
        assert checks == states, f"a reader saw {checks} checks but {states} states of the run"


def _integrity(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.scalar(text("PRAGMA integrity_check")) == "ok"
            assert connection.execute(text("PRAGMA foreign_key_check")).first() is None
        dangling = connection.scalar(
            text("SELECT count(*) FROM states s LEFT JOIN checks c ON c.id = s.last_check_id WHERE c.id IS NULL")
        )
        assert dangling == 0


def _export(db_url: str, what: str, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [str(Path(sys.executable).parent / "backlinks"), "--database", db_url, "export", "--what", what, "--format", "jsonl"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_run_then_resume(db_url: str, site: FaultServer, tmp_path: Path) -> None:
    _prepare(db_url, site, tmp_path)
    env = _env(db_url, site)
    engine = make_engine(db_url)
    try:
        crawl = subprocess.Popen(crawl_command((), SETTINGS), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while _checks(engine) < KILL_AFTER:
            assert crawl.poll() is None, f"the crawl ended before it could be killed: {crawl.stderr.read()[-2000:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the crawl made no progress"
            _assert_consistent(engine)
            time.sleep(0.1)
        crawl.send_signal(signal.SIGKILL)
        crawl.communicate(timeout=30)
        assert crawl.returncode == -signal.SIGKILL

        _integrity(engine)
        _assert_consistent(engine)
        before = _checks(engine)
        assert KILL_AFTER <= before < PAGES, "kill the crawl mid-run, not after it finished"

        # The resumed run: only what was not stored yet is due. Readers export meanwhile.
        resumed = subprocess.Popen(crawl_command((), SETTINGS), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        exports = []
        while resumed.poll() is None:
            _assert_consistent(engine)
            if len(exports) < 2:
                exports.append(_export(db_url, "current" if len(exports) % 2 == 0 else "checks", env))
            time.sleep(0.1)
        _, stderr = resumed.communicate()
        assert resumed.returncode == 0, stderr[-3000:]
        for export in exports:
            out, err = export.communicate(timeout=60)
            assert export.returncode == 0, err[-2000:]
            rows = [json.loads(line) for line in out.splitlines()]
            assert rows and all(row["target_url"] == TARGET for row in rows)
            if "last_checked" in rows[0]:  # `current`: every backlink, each either unchecked or live
                assert len(rows) == PAGES and {row["status"] for row in rows} <= {"unchecked", "live"}

        _integrity(engine)
        with make_sessionmaker(engine)() as session:
            runs = list(session.scalars(select(Run).order_by(Run.id)))
            assert len(runs) == 2 and runs[1].status == "finished"
            per_backlink = dict(session.execute(select(Check.backlink_id, func.count()).group_by(Check.backlink_id)).all())
            resumed_checks = session.scalar(select(func.count()).select_from(Check).where(Check.run_id == runs[1].id))
            first_seen = session.execute(
                select(Event.backlink_id, func.count()).where(Event.kind == "first_seen").group_by(Event.backlink_id)
            ).all()
            events = session.scalar(select(func.count()).select_from(Event))
            states = session.execute(select(State.status, func.count()).group_by(State.status)).all()
            backlinks = session.scalar(select(func.count()).select_from(Backlink))
        # Every backlink checked exactly once overall: the resumed run did exactly the rest.
        assert backlinks == PAGES and len(per_backlink) == PAGES and set(per_backlink.values()) == {1}
        assert resumed_checks == PAGES - before
        # Every page is live: one first_seen event each, none duplicated or lost, nothing else.
        assert len(first_seen) == PAGES and {n for _, n in first_seen} == {1} and events == PAGES
        assert states == [("live", PAGES)]
    finally:
        engine.dispose()
