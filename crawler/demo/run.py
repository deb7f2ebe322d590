"""`backlinks demo`: two nights of real verification against the bundled demo web.

Starts :class:`~crawler.demo.site.DemoSite` on 127.0.0.1, imports its backlinks into a fresh SQLite
file, runs `scrapy crawl verify` (a real crawl in a child process, exactly as cron would), switches
the web to its second night, crawls again, prints what each night found and what changed, and
writes the client report of both nights (report.html).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler.core.outcome import RunStatus
from crawler.core.scope import Scope
from crawler.demo.site import DemoSite, write_backlinks_csv
from crawler.reports.html import write_report
from crawler.reports.tables import run_report
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.queries import get_run
from pipelines.report_data import ReportData, gather

# Crawl settings for a simulated web on loopback: fake hosts resolve to the demo server, and the
# timeout is short enough that the demo's deliberately slow page shows up as `timeout` quickly.
DEMO_SETTINGS = {
    "DOWNLOAD_TIMEOUT": "3",
    "DOWNLOAD_MAXSIZE": str(2 * 1024 * 1024),
    "RETRY_TIMES": "0",
}
DELAY_SCALE = 0.5  # the slow page answers after 4 s: past the 3 s timeout
REPORT_FILE = "report.html"
REPORT_TITLE = "Demo: two nights of backlink checks"


def crawl_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BACKLINKS_DATABASE_URL=database_url,
        BACKLINKS_RESOLVE="*.test=127.0.0.1",
        BACKLINKS_ALLOWED_NETWORKS="127.0.0.0/8",
        SCRAPY_SETTINGS_MODULE="settings",
    )
    return env


def crawl(
    database_url: str,
    arguments: Sequence[str] = (),
    settings: dict[str, str] | None = None,
    *,
    cwd: Path | None = None,
    log_level: str = "WARNING",
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `scrapy crawl verify` in a child process, as cron or Scrapyd would."""
    command = [sys.executable, "-m", "scrapy", "crawl", "verify", "-s", f"LOG_LEVEL={log_level}"]
    for name, value in {**DEMO_SETTINGS, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    return subprocess.run(
        command, env=crawl_env(database_url), cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )


@dataclass
class Demo:
    """A demo web plus a database holding its backlinks, ready to crawl."""

    site: DemoSite
    database_url: str

    @classmethod
    def prepare(cls, workdir: Path, database_url: str | None = None, delay_scale: float = DELAY_SCALE) -> Demo:
        """Start the demo web and import its backlinks into ``database_url`` (which must be empty),
        by default a fresh SQLite file in ``workdir``."""
        workdir.mkdir(parents=True, exist_ok=True)
        if database_url is None:
            for stale in workdir.glob("backlinks.sqlite*"):
                stale.unlink()
            database_url = f"sqlite:///{workdir / 'backlinks.sqlite'}"
        url = database_url
        site = DemoSite(delay_scale=delay_scale).start()
        csv_path = workdir / "demo-backlinks.csv"
        write_backlinks_csv(csv_path, site.port, site.closed_port)
        import_clean(url, csv_path)
        return cls(site, url)

    def night(self, number: int, cwd: Path | None = None) -> int:
        """Crawl every backlink as night ``number``; return the run's id."""
        self.site.night = number
        result = crawl(self.database_url, ["all=1"], self.site.crawl_settings(), cwd=cwd)
        if result.returncode != 0:
            raise RuntimeError(f"scrapy crawl verify failed ({result.returncode}):\n{result.stderr[-4000:]}")
        engine = make_engine(self.database_url)
        with make_sessionmaker(engine)() as session:
            run = get_run(session, None)
            assert run is not None and run.status == RunStatus.FINISHED, "the crawl recorded no finished run"
            run_id = run.id
        engine.dispose()
        return run_id

    def write_report(self, path: Path, since: datetime) -> ReportData:
        """The client report of every backlink from ``since`` on, written to ``path`` (HTML)."""
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine)() as session, session.begin():
                data = gather(session, Scope(), since, datetime.now(UTC))
        finally:
            engine.dispose()
        write_report(data, REPORT_TITLE, path)
        return data

    def report(self, run_id: int) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            return run_report(make_sessionmaker(engine), run_id)
        finally:
            engine.dispose()


def run_demo(workdir: Path, say: Callable[..., None]) -> Path:
    """Two nights, their summaries, and the client report of both; returns the report's path."""
    say(f"Demo web on 127.0.0.1; database {workdir / 'backlinks.sqlite'}")
    started = datetime.now(UTC)
    demo = Demo.prepare(workdir)
    try:
        say(f"Imported the demo's backlinks from {workdir / 'demo-backlinks.csv'}.\n")
        for number in (1, 2):
            say(f"Night {number}: scrapy crawl verify ...")
            say(*demo.report(demo.night(number, cwd=workdir)))
    finally:
        demo.site.stop()
    report = workdir / REPORT_FILE
    demo.write_report(report, since=started)
    say(f"Client report of both nights: {report} (open it in a browser; it loads nothing from the network)\n")
    say(
        "Explore it yourself:\n"
        f"  cd {workdir}\n"
        "  backlinks status\n"
        "  backlinks changes\n"
        "  backlinks export --what current --format csv\n"
        "  backlinks report -o report.html --since 7d"
    )
    return report
