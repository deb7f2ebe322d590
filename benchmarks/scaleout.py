"""Scale-out benchmark: `scrapy crawl verify` with 1, 2 and 4 processes sharing one run on PostgreSQL.

    .venv/bin/python benchmarks/scaleout.py                  # 1500 sites x 2 pages, 1/2/4 processes
    .venv/bin/python benchmarks/scaleout.py --sites 500 --processes 1 2

Each round gets a fresh PostgreSQL database (on BACKLINKS_TEST_POSTGRES_URL's server, default
127.0.0.1:5432) with every page's backlink imported, then starts N processes with the same run key
(`-a run=... -a all=1`) against a farm of sites on 127.0.0.1 (tests/support/farm.py, served from a thread
of this process) and waits for all of them. Reported per round:

- crawl s: from the run's start (first process joined) to its end (last process left), from the
  run record; backlinks/s over that time (what scale-out buys);
- wall s: from launching the processes to the last exit (adds Python/Scrapy start-up, ~5 s);
- per-process share of the checks, and that every backlink was checked exactly once.

One Scrapy process uses one core, so on this 2-core machine 2 processes should beat 1, and 4 can
only add contention (the farm server and PostgreSQL share the same cores). Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

from tests.support.farm import Farm  # shared with tests/test_scaleout.py

from crawler.demo.run import crawl_env
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.models import Check, Run, RunWorker

ADMIN_URL = os.environ.get("BACKLINKS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SETTINGS = {
    "LOG_LEVEL": "INFO",
    "BACKLINKS_RENDER": "never",
    "RETRY_TIMES": "0",
    "DOWNLOAD_TIMEOUT": "15",
    "BACKLINKS_LEASE_SECONDS": "60",
    "BACKLINKS_CLAIM_POLL_SECONDS": "1",
    # The last observations of a process wait at most this long to be stored (and its domains
    # settled, which the other processes wait for): 5 s by default, a visible tail in a short run.
    "BACKLINKS_BATCH_SECONDS": "1",
}


def _round(farm: Farm, processes: int, workdir: Path) -> dict[str, object]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"backlinks_scaleout_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        backlinks = farm.import_into(make_sessionmaker(engine), datetime.now(UTC))
        command = [sys.executable, "-m", "scrapy", "crawl", "verify", "-a", f"run=bench-{processes}", "-a", "all=1"]
        for key, value in SETTINGS.items():
            command += ["-s", f"{key}={value}"]
        started = time.monotonic()
        children = []
        for n in range(processes):
            with (workdir / f"verify-{processes}-{n}.log").open("wb") as log:
                children.append(subprocess.Popen(command, env=crawl_env(url), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        codes = [child.wait() for child in children]
        wall = time.monotonic() - started
        with make_sessionmaker(engine)() as session:
            run = session.scalars(select(Run)).one()
            checks = session.scalar(select(func.count()).select_from(Check))
            distinct = session.scalar(select(func.count(func.distinct(Check.backlink_id))))
            shares = sorted((w.counts or {}).get("checked", 0) for w in session.scalars(select(RunWorker)))
        engine.dispose()
        crawl = (run.finished_at - run.started_at).total_seconds() if run.finished_at else float("nan")
        return {
            "processes": processes, "exit codes": codes, "backlinks": backlinks, "run": run.status,
            "exactly once": checks == distinct == backlinks, "crawl s": crawl, "wall s": wall,
            "backlinks/s": backlinks / crawl, "shares": shares,
        }
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=1500)
    parser.add_argument("--pages", type=int, default=2, help="referring pages per site (one backlink each)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each page takes to answer")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/backlinks-scaleout-bench"))
    options = parser.parse_args()
    options.workdir.mkdir(parents=True, exist_ok=True)
    farm = Farm(sites=options.sites, pages=options.pages, delay=options.delay).start()
    print(f"farm: {options.sites} sites x {options.pages} pages on 127.0.0.1:{farm.port}, {options.delay * 1000:.0f} ms per page;"
          f" {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start")
    try:
        rows = [_round(farm, n, options.workdir) for n in options.processes]
    finally:
        farm.stop()
    print(f"{'processes':>9} {'crawl s':>8} {'wall s':>7} {'backlinks/s':>11} {'speed-up':>8}  exactly once  run       checks per process")
    base = rows[0]["backlinks/s"]
    for row in rows:
        print(f"{row['processes']:>9} {row['crawl s']:>8.1f} {row['wall s']:>7.1f} {row['backlinks/s']:>11.1f} "
              f"{row['backlinks/s'] / base:>7.2f}x  {row['exactly once']!s:<12}  {row['run']:<9} {row['shares']}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on this machine skews the figures)")


if __name__ == "__main__":
    main()
