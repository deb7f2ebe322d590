"""Benchmark `scrapy crawl verify` against the simulated web; prints one table. Not a test.

    .venv/bin/python -m benchmarks.verify_bench            # everything, ~6 minutes on 2 cores
    .venv/bin/python -m benchmarks.verify_bench --only storage   # the storage layer alone, ~30 seconds
    .venv/bin/python -m benchmarks.verify_bench --help

Side by side, on the same pages, the same concurrency and the same loopback server
(``python -m tests.support.simweb`` in its own process, so serving pages does not share the crawler's core):

1. ``scrapy crawl verify`` (static): pages/s, backlinks/s, CPU ms per page, peak RSS; on SQLite, and
   on PostgreSQL when reachable; plus the storage layer alone (``batches.write_batch``), observations/s.
2. advertools ``crawl()`` in list mode over the same referring URLs (``pip install advertools``).
3. The floor: lxml's CPU to parse each page once, and a plain Scrapy spider that fetches the pages and
   does nothing with them.
4. Memory: peak RSS of ``verify`` with 10k and with 1M known backlinks, both with the same ``limit``.

CPU and peak RSS come from ``wait4()`` on each child process: user + system time of the whole
process (start-up included) and its high-water mark. Throughput is pages over the child's wall time.
Every crawler resolves ``*.test`` to 127.0.0.1 through our resolver (``TWISTED_DNS_RESOLVER``), so no
traffic leaves loopback; advertools gets the same resolver through its ``custom_settings``.

This file is also a Scrapy spider module: ``scrapy runspider`` on it runs the floor spider.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scrapy
from lxml import etree
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from crawler.core.items import DueBacklink, Observation
from crawler.core.observe import Fetched, observe_page
from tests.support.simweb import SimConfig, SimWebProcess, iter_pages, write_backlinks_csv
from tests.support.simweb.model import Renderer, SimPage
from pipelines import batches, runs
from crawler.core.changes import ChangePolicy
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.due import DueFilter
from pipelines.imports import import_clean
from pipelines.models import Backlink, Base, Check, Run

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "BACKLINKS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RESOLVE = "*.test=127.0.0.1"
# The measurements, in the order they run; `--only` picks some of them.
PARTS = ("verify", "advertools", "floor", "storage", "scale")


# --- The floor spider: fetch, do nothing (run by `scrapy runspider` on this file) -------------------


class FloorSpider(scrapy.Spider):
    """Fetches every URL of ``-a urls=FILE`` with the project's settings and keeps nothing."""

    name = "floor"
    custom_settings = {
        "ITEM_PIPELINES": {},
        "EXTENSIONS": {},
        # Plain HTTP, as `verify -a render=never` uses: no Playwright driver.
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
            "https": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
        },
    }

    def __init__(self, urls: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls_file = urls

    async def start(self) -> Any:
        for url in Path(self.urls_file).read_text().split():
            yield scrapy.Request(url, callback=self.parse, errback=self.ignore, dont_filter=True)

    def parse(self, response: Any) -> None:
        return None

    def ignore(self, failure: Any) -> None:
        return None


# --- Measuring a child process ----------------------------------------------------------------------


@dataclass
class Usage:
    wall: float  # seconds
    cpu: float  # user + system seconds, the child and everything it waited for
    max_rss: int  # KiB
    returncode: int
    stderr: str = ""


def measure(command: Sequence[str], env: dict[str, str], cwd: Path) -> Usage:
    """Run ``command``: its wall time, CPU time (``wait4``: the child and every process it waited
    for) and peak RSS: the largest ``VmHWM`` of the child or any descendant, polled.

    Not ``ru_maxrss``: Linux carries the parent's RSS at ``fork()`` over into the child's, so a
    child of this (large) process would report this process's size.
    """
    with tempfile.TemporaryFile(mode="w+") as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max([peak, *(_high_water(p) for p in _tree(process.pid))])
            time.sleep(0.05)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        return Usage(wall, usage.ru_utime + usage.ru_stime, peak, process.returncode, errors.read())


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return out


def _high_water(pid: int) -> int:
    """Peak resident set of a live process, KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def crawl_env(database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BACKLINKS_RESOLVE=RESOLVE, BACKLINKS_ALLOWED_NETWORKS="127.0.0.0/8", SCRAPY_SETTINGS_MODULE="settings")
    if database_url:
        env["BACKLINKS_DATABASE_URL"] = database_url
    return env


@dataclass
class Row:
    name: str
    pages: int
    backlinks: int | None
    usage: Usage | None
    extra: str = ""
    cpu_ms_override: float | None = None  # for rows measured in-process (the lxml floor)

    @property
    def pages_s(self) -> float | None:
        return self.pages / self.usage.wall if self.usage else None

    @property
    def backlinks_s(self) -> float | None:
        return self.backlinks / self.usage.wall if self.usage and self.backlinks else None

    @property
    def cpu_ms(self) -> float | None:
        if self.cpu_ms_override is not None:
            return self.cpu_ms_override
        return self.usage.cpu / self.pages * 1000 if self.usage else None


# --- Preparing databases -----------------------------------------------------------------------------


def import_csv(url: str, csv_path: Path) -> float:
    """Import the CSV into a fresh schema at ``url``; returns backlinks imported per second."""
    engine = make_engine(url)
    upgrade(engine)  # before the clock starts: only the import is timed (it finds the schema current)
    engine.dispose()
    start = time.perf_counter()
    report = import_clean(url, csv_path)
    return report.added / (time.perf_counter() - start)


def sqlite_url(path: Path) -> str:
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    return f"sqlite:///{path}"


def postgres_database(name: str) -> str | None:
    """A fresh PostgreSQL database on the local server, or None when none is reachable."""
    try:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable" here
        print(f"  PostgreSQL not reachable ({type(exc).__name__}): skipping its rows", flush=True)
        return None
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def run_counts(url: str) -> tuple[int, int]:
    """(referring pages, checks) of the last run."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        run_id = session.scalar(select(func.max(Run.id)))
        checks = session.scalar(select(func.count()).where(Check.run_id == run_id)) or 0
        pages = session.scalar(
            select(func.count(func.distinct(Backlink.referring_key)))
            .join(Check, Check.backlink_id == Backlink.id)
            .where(Check.run_id == run_id)
        ) or 0
    engine.dispose()
    return pages, checks


# --- The measurements --------------------------------------------------------------------------------


def verify(
    url: str, workdir: Path, settings: dict[str, str], arguments: Sequence[str] = ("all=1", "render=never")
) -> Usage:
    command = [sys.executable, "-m", "scrapy", "crawl", "verify"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    usage = measure(command, crawl_env(url), workdir)
    if usage.returncode:
        raise RuntimeError(f"verify failed ({usage.returncode}):\n{usage.stderr[-3000:]}")
    return usage


def floor_fetch(urls_file: Path, workdir: Path, settings: dict[str, str]) -> Usage:
    command = [sys.executable, "-m", "scrapy", "runspider", str(Path(__file__).resolve()), "-a", f"urls={urls_file}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    # A database the floor spider never touches, so the project's settings load as they are.
    env = crawl_env(f"sqlite:///{workdir / 'unused.sqlite'}")
    # This file imports the simulated web from tests/: the child runs in the work directory.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    usage = measure(command, env, workdir)
    if usage.returncode:
        raise RuntimeError(f"floor spider failed ({usage.returncode}):\n{usage.stderr[-3000:]}")
    return usage


def advertools_crawl(urls: list[str], workdir: Path, settings: dict[str, str]) -> tuple[Usage, int] | None:
    """advertools' ``crawl()`` in list mode, in a child Python process (its own `scrapy runspider`)."""
    if importlib.util.find_spec("advertools") is None:
        return None
    out = workdir / "advertools.jsonl"
    out.unlink(missing_ok=True)
    custom = {
        **settings,
        # Our resolver, so advertools reaches the same *.test hosts on loopback and nothing else.
        "TWISTED_DNS_RESOLVER": "crawler.shell.resolver.MappedResolver",
        "BACKLINKS_RESOLVE": RESOLVE,
        "BACKLINKS_ALLOWED_NETWORKS": "127.0.0.0/8",
        # advertools puts each URL's host:port in allowed_domains, which Scrapy's offsite filter
        # refuses (ports are not domains), dropping every request; list mode follows no link anyway.
        "DOWNLOADER_MIDDLEWARES": {"scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None},
        "LOG_LEVEL": "WARNING",
    }
    script = (
        "import json, sys, advertools\n"
        "urls = open(sys.argv[1]).read().split()\n"
        "advertools.crawl(urls, sys.argv[2], follow_links=False, custom_settings=json.loads(sys.argv[3]))\n"
    )
    urls_file = workdir / "advertools-urls.txt"
    urls_file.write_text("\n".join(urls))
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # its `scrapy` command
    cwd = workdir / "advertools"  # no scrapy.cfg here: advertools runs with its own settings
    cwd.mkdir(exist_ok=True)
    usage = measure([sys.executable, "-c", script, str(urls_file), str(out), json.dumps(custom)], env, cwd)
    rows = sum(1 for _ in out.open()) if out.exists() else 0
    return usage, rows


def lxml_floor(config: SimConfig, pages: list[SimPage]) -> float:
    """CPU ms to parse each page's body once with lxml, as parsel does; averaged over all pages
    (an error page is parsed too, it is just small)."""
    renderer = Renderer(config.seed)
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    bodies = [
        renderer.page(page).encode() if page.status in (200, 301) else b"<html><body>error</body></html>"
        for page in pages
    ]
    best = float("inf")
    for _ in range(3):  # best of three: the least disturbed by other processes
        start = time.process_time()
        for body in bodies:
            etree.fromstring(body, parser=parser)
        best = min(best, time.process_time() - start)
    return best / len(bodies) * 1000


def observations_for(config: SimConfig, pages: list[SimPage], port: int, count: int) -> list[Observation]:
    """Real observations (our extraction over the simulated pages) of the first ``count`` backlinks,
    numbered 1.. like the import (whose CSV takes only the first backlinks of the last page)."""
    renderer = Renderer(config.seed)
    out: list[Observation] = []
    at = datetime.now(UTC)
    next_id = 1
    for page in pages:
        due = []
        for backlink in page.backlinks[: count - next_id + 1]:
            due.append(DueBacklink(id=next_id, target_url=backlink.target_url, match=backlink.match))
            next_id += 1
        body = renderer.page(page).encode() if page.status in (200, 301) else b"<html></html>"
        status = 200 if page.status == 301 else page.status
        fetched = Fetched(url=page.url(port), final_url=page.url(port), http_status=status,
                          headers={"content-type": ["text/html; charset=utf-8"]}, body=body, text=body.decode())
        out.extend(observe_page(due, fetched, at))
    return out


def storage_rate(url: str, observations: list[Observation], batch: int) -> tuple[float, float]:
    """Observations per second through ``batches.write_batch``: a first night (no states yet) and a
    second night (every state updated). The database must hold the backlinks already."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rates = []
    policy = ChangePolicy()
    for night in (1, 2):
        now = datetime.now(UTC)
        ticket = runs.join_run(sessions, runs.WorkOrder(DueFilter(cutoff=now), {"bench": night}), now)
        run_id, tally = ticket.run_id, batches.RunTally(worker_id=ticket.worker_id)
        shifted = [o.model_copy(update={"checked_at": o.checked_at.replace(day=night)}) for o in observations]
        start = time.perf_counter()
        stored = 0
        for i in range(0, len(shifted), batch):
            stored += len(batches.write_batch(sessions, run_id, shifted[i : i + batch], policy, tally))
        rates.append(len(shifted) / (time.perf_counter() - start))
        assert stored == len(shifted), f"only {stored} of {len(shifted)} observations matched a backlink"
    engine.dispose()
    return rates[0], rates[1]


# --- Output ------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    header = ("run", "pages", "backlinks", "wall s", "pages/s", "backlinks/s", "CPU ms/page", "peak RSS MiB", "notes")
    lines = [header]
    for row in rows:
        usage = row.usage
        lines.append((
            row.name,
            fmt(row.pages),
            fmt(row.backlinks) if row.backlinks else "-",
            fmt(usage.wall, 1) if usage else "-",
            fmt(row.pages_s),
            fmt(row.backlinks_s),
            fmt(row.cpu_ms, 2),
            fmt(usage.max_rss / 1024, 0) if usage else "-",
            row.extra,
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, Scrapy {scrapy.__version__}, lxml {etree.__version__}; "
        f"load average {load}"
    )


def say(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# --- Main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlinks", type=int, default=4500, help="known backlinks crawled (~1/3 as many pages)")
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS for every crawler")
    parser.add_argument("--storage-batch", type=int, default=500)
    parser.add_argument("--scale", type=int, nargs=2, default=(10_000, 1_000_000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--scale-limit", type=int, default=1500, help="limit for the memory-scaling runs")
    parser.add_argument("--skip", nargs="*", default=[], choices=["postgres", "advertools", "floor", "scale"])
    parser.add_argument("--only", nargs="+", default=PARTS, choices=PARTS, help="run only these measurements")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temporary directory)")
    options = parser.parse_args(argv)
    parts = {part for part in options.only if part not in options.skip}

    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="verify-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = SimConfig(seed=options.seed, sites=options.sites, latency_ms=options.latency_ms, jitter_ms=options.jitter_ms)
    settings = {
        "CONCURRENT_REQUESTS": str(options.concurrency),
        "LOG_LEVEL": "WARNING",
        "DOWNLOAD_TIMEOUT": "30",
    }
    rows: list[Row] = []
    notes: list[str] = []
    say(f"Machine: {machine()}\nWork directory: {workdir}")

    with SimWebProcess(config) as web:
        pages = list(iter_pages(config, options.backlinks))
        urls = [page.url(web.port) for page in pages]
        csv_path = workdir / "backlinks.csv"
        write_backlinks_csv(csv_path, config, web.port, options.backlinks)
        say(f"Simulated web on 127.0.0.1:{web.port}: {len(pages)} pages, {options.backlinks} backlinks, "
            f"{len({p.site for p in pages})} hosts")

        # 1. verify on SQLite (and PostgreSQL).
        if "verify" in parts:
            url = sqlite_url(workdir / "bench.sqlite")
            import_rate = import_csv(url, csv_path)
            say("verify (SQLite) ...")
            usage = verify(url, workdir, settings)
            crawled_pages, checks = run_counts(url)
            rows.append(Row("verify, SQLite", crawled_pages, checks, usage, f"import {import_rate:,.0f} backlinks/s"))
        uses_postgres = "postgres" not in options.skip and bool(parts & {"verify", "storage"})
        pg_url = postgres_database("backlinks_bench") if uses_postgres else None
        if pg_url and "verify" in parts:
            import_csv(pg_url, csv_path)
            say("verify (PostgreSQL) ...")
            usage = verify(pg_url, workdir, settings)
            crawled_pages, checks = run_counts(pg_url)
            rows.append(Row("verify, PostgreSQL", crawled_pages, checks, usage))

        # 2. advertools.
        if "advertools" in parts:
            say("advertools crawl() ...")
            result = advertools_crawl(urls, workdir, settings)
            if result is None:
                notes.append("advertools is not installed (`pip install advertools` into the venv): row skipped.")
            else:
                usage, crawled = result
                chunks = -(-len(",".join(urls)) // 100_000)
                rows.append(Row("advertools crawl(), list mode", len(pages), None, usage,
                                f"{crawled} rows out" + (f"; {chunks} scrapy runs (argv limit)" if chunks > 1 else "")))

        # 3. The floor.
        if "floor" in parts:
            say("floor: plain Scrapy fetch, lxml parse ...")
            urls_file = workdir / "urls.txt"
            urls_file.write_text("\n".join(urls))
            rows.append(Row("floor: Scrapy fetch only", len(pages), None, floor_fetch(urls_file, workdir, settings)))
            parse_ms = lxml_floor(config, pages)
            rows.append(Row("floor: lxml parse once", len(pages), None, None, "in-process, best of 3",
                            cpu_ms_override=parse_ms))

        # Storage alone.
        storage = {}
        if "storage" in parts:
            say("storage: write_batch ...")
            observations = observations_for(config, pages, web.port, options.backlinks)
            for name, db in (("SQLite", sqlite_url(workdir / "storage.sqlite")), ("PostgreSQL", pg_url)):
                if db is None:
                    continue
                if name == "PostgreSQL":  # the verify rows may have filled it: empty it
                    engine = make_engine(db)
                    upgrade(engine)  # or they did not run, and it has no schema yet
                    with engine.begin() as connection:
                        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
                        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                    engine.dispose()
                import_csv(db, csv_path)
                storage[name] = storage_rate(db, observations, options.storage_batch)

        # 4. Memory scaling.
        scale: dict[int, Usage] = {}
        if "scale" in parts:
            for count in options.scale:
                say(f"memory: verify with {count:,} known backlinks, limit={options.scale_limit} ...")
                scale_csv = workdir / f"scale-{count}.csv"
                write_backlinks_csv(scale_csv, SimConfig(seed=options.seed, sites=options.sites), web.port, count)
                scale_url = sqlite_url(workdir / f"scale-{count}.sqlite")
                import_csv(scale_url, scale_csv)
                scale_csv.unlink()
                scale[count] = verify(
                    scale_url, workdir, settings, ("all=1", "render=never", f"limit={options.scale_limit}")
                )
                rows.append(Row(f"verify, {count:,} known, limit {options.scale_limit}", run_counts(scale_url)[0],
                                run_counts(scale_url)[1], scale[count]))
    if pg_url:
        drop_postgres(pg_url)

    print(f"Machine: {machine()}")
    print(f"Command: {' '.join([Path(sys.executable).name, '-m', 'benchmarks.verify_bench', *(argv or sys.argv[1:])])}")
    print(f"Simulated web: seed {config.seed}, {options.sites} sites, latency {config.latency_ms:g} ms "
          f"+/- {config.jitter_ms:g} ms; CONCURRENT_REQUESTS={options.concurrency} for every crawler\n")
    if rows:
        print(table(rows))
        print()
    for name, (first, second) in storage.items():
        print(f"Storage, {name}: {first:,.0f} observations/s (first night), {second:,.0f}/s (second night), "
              f"batches of {options.storage_batch}")
    print()
    print(goals(rows, storage, scale, options))
    for note in notes:
        print("Note:", note)
    if not options.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def goals(rows: list[Row], storage: dict[str, tuple[float, float]], scale: dict[int, Usage],
          options: argparse.Namespace) -> str:
    verify_row = next((r for r in rows if r.name == "verify, SQLite"), None)
    lines = ["Goals (ratios from this run):"]
    parse = next((r for r in rows if r.name == "floor: lxml parse once"), None)
    if parse and verify_row and parse.cpu_ms is not None and verify_row.cpu_ms is not None:
        budget = 1.5 * (parse.cpu_ms + 1.0)
        ratio = verify_row.cpu_ms / (parse.cpu_ms + 1.0)
        lines.append(f"  CPU per verified page: {verify_row.cpu_ms:.2f} ms = {ratio:.2f}x (lxml parse "
                     f"{parse.cpu_ms:.2f} ms + 1 ms); goal <= 1.5x ({budget:.2f} ms): "
                     + ("met" if ratio <= 1.5 else "NOT met"))
    adv = next((r for r in rows if r.name.startswith("advertools")), None)
    if adv and verify_row and adv.pages_s and verify_row.pages_s:
        ratio = verify_row.pages_s / adv.pages_s
        lines.append(f"  Throughput vs advertools: {ratio:.2f}x; goal >= 3x: " + ("met" if ratio >= 3 else "NOT met"))
    if len(scale) == 2:
        small, large = (scale[n] for n in sorted(scale))
        ratio = large.max_rss / small.max_rss
        lines.append(f"  Peak RSS {max(scale):,} vs {min(scale):,} known backlinks: {ratio:.2f}x; goal <= 1.2x: "
                     + ("met" if ratio <= 1.2 else "NOT met"))
    for name, (first, second) in storage.items():
        worst = min(first, second)
        lines.append(f"  Storage {name}: {worst:,.0f} observations/s (worse night); goal >= 5,000: "
                     + ("met" if worst >= 5000 else "NOT met"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
