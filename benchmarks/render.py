"""Benchmark the render policy: `scrapy crawl verify` with render=never, auto and always. Not a test.

    .venv/bin/python benchmarks/render.py                 # 1,000 static + 50 JS-only pages, simulated web
    .venv/bin/python benchmarks/render.py --web tiny      # the same counts on the JS test web's small pages
    .venv/bin/python benchmarks/render.py --static 200 --js 10
    .venv/bin/python benchmarks/render.py --runs 5         # never and auto five times each (default 3)
    .venv/bin/python benchmarks/render.py --subresources 60 --modes always --runs 1
                                                          # heavy pages: 60 slow / hanging / failing sub-resources each

Two webs, each page on its own ``*.test`` host with one known backlink:

- ``simweb`` (default): the simulated web of :mod:`tests.support.simweb`, as the performance benchmark
  uses it: server-rendered articles of realistic size (log-normal, median ~100 KiB, with inline
  styles and scripts and a site stylesheet), and app shells whose links exist only after their
  script ran; 20 ms +/- 10 ms of latency per response; served by a child process.
- ``tiny``: the JS test web (:mod:`tests.support.js_site`): ~10 KiB articles with one inline script,
  and small app shells; no latency. The cheapest possible render, so the least favourable case for
  the always/auto ratio.

Each mode crawls a fresh SQLite database in a child process, exactly as cron would; ``auto`` is also
run a second night on its own database, when the render memory sends JS pages straight to the browser.
``never`` and ``auto`` run ``--runs`` times, alternating, and the run with the median wall time is
reported (on a small shared VM one crawl's wall time swings by 10-15%); every wall time is printed.
``always`` runs once: it takes ~10x as long, and its swings matter less to the ratio.

Reported per run: pages rendered (the ``backlinks/render/pages`` stat), JS-only links found live,
wall time of the child, peak memory (the largest sum of RSS over the crawler process and all its
descendants: the Playwright driver and every Chromium process, sampled every 100 ms), and CPU
seconds: all of the tree (``wait4``), of the crawler process itself (its last /proc sample), and the
difference, the browser's (driver and Chromium).
And per run that renders: render seconds p50 / p95 (the ``backlinks/render/seconds_*`` stats: from
a page's set-up to the probe's answer or the failure) and the share of renders that timed out.
Goals (issue 3): auto finds 100% of the JS-only links, costs <= 1.3x never, and is >= 10x faster
than always. Goal (issue 12): with ``--subresources`` (third-party sub-resources that crawl in, hang
for good or fail, so the load event comes late or never, while DOMContentLoaded comes within ~1 s),
under 0.5% of renders time out and JS-only links are still all found.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.support.js_site import SHOP, JsSite
from crawler.demo.run import DEMO_SETTINGS, crawl_env
from tests.support.crawls import backlinks_database
from tests.support.simweb import Kind, SimConfig, SimWebProcess, page_by_index
from pipelines.db import make_engine, make_sessionmaker
from pipelines.queries import iter_current

PAGE_SIZE = 4096


@dataclass
class Result:
    label: str
    rendered: int
    js_found: int
    static_live: int
    wall: float
    peak_mb: float
    crawler_cpu: float  # seconds of CPU of the crawler process itself
    cpu: float  # seconds of CPU of the crawler and every descendant (Playwright driver, Chromium)
    renders: int = 0  # render requests
    timeouts: int = 0  # renders that timed out
    p50: float | None = None  # render seconds
    p95: float | None = None


def _tree_rss(root: int) -> int:
    """Bytes of RSS of ``root`` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _own_cpu(pid: int) -> float | None:
    """Seconds of CPU (user + system) ``pid`` itself has used so far, from /proc."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tiny_pages(site: JsSite, static: int, js: int) -> tuple[list[tuple[str, str, str]], set[str], set[str]]:
    static_pages = {site.url(f"/bench/static/{n}", f"news{n}.test") for n in range(static)}
    js_pages = {site.url(f"/bench/js/{n}", f"app{n}.test") for n in range(js)}
    rows = [(page, f"{SHOP}products/{page.rsplit('/', 1)[1]}", "exact") for page in static_pages | js_pages]
    return rows, static_pages, js_pages


def simweb_config(static: int, js: int, subresources: int = 0) -> SimConfig:
    """Only OK and JS pages, one known backlink each, every one still on its page, a host per page."""
    return SimConfig(
        sites=10 * (static + js), latency_ms=20.0, jitter_ms=10.0, js_share=js / max(static + js, 1),
        noindex_share=0.0, redirect_share=0.0, private_share=0.0, error_share=0.0, empty_share=0.0, refresh_share=0.0,
        max_backlinks_per_page=1, removed_share=0.0, subresources=subresources,
    )


def _stat(stderr: str, name: str) -> float | None:
    found = re.search(rf"'{re.escape(name)}': ([0-9.]+)", stderr)
    return float(found.group(1)) if found else None


def _simweb_pages(config: SimConfig, port: int, static: int, js: int) -> tuple[list[tuple[str, str, str]], set[str], set[str]]:
    """The first ``static`` OK pages and ``js`` JS pages of the simulated web."""
    rows, static_pages, js_pages = [], set(), set()
    index = 0
    while len(static_pages) < static or len(js_pages) < js:
        page = page_by_index(config, index)
        index += 1
        wanted = js_pages if page.kind is Kind.JS else static_pages
        if len(wanted) >= (js if page.kind is Kind.JS else static):
            continue
        url = page.url(port)
        wanted.add(url)
        backlink = page.backlinks[0]
        rows.append((url, backlink.target_url, backlink.match.value))
    return rows, static_pages, js_pages


def _crawl(label: str, url: str, mode: str, static_pages: set[str], js_pages: set[str]) -> Result:
    command = [sys.executable, "-m", "scrapy", "crawl", "verify", "-a", "all=1", "-a", f"render={mode}",
               "-s", "LOG_LEVEL=INFO", "-s", "LOGSTATS_INTERVAL=0"]
    for name, value in DEMO_SETTINGS.items():
        command += ["-s", f"{name}={value}"]
    started = time.monotonic()
    child = subprocess.Popen(command, env=crawl_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    stderr_chunks: list[str] = []
    # Drain stderr on a thread so a chatty child never blocks on a full pipe while we sample.
    reader = threading.Thread(target=lambda: stderr_chunks.append(child.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    crawler_cpu = 0.0
    # wait4 rather than poll: its rusage counts the whole tree (every descendant is reaped by its
    # parent, Chromium's processes by the browser, the browser and the driver by their parents).
    while not (ended := os.wait4(child.pid, os.WNOHANG))[0]:
        peak = max(peak, _tree_rss(child.pid))
        crawler_cpu = _own_cpu(child.pid) or crawler_cpu
        time.sleep(0.1)
    wall = time.monotonic() - started
    _pid, status, usage = ended
    child.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    stderr = "".join(stderr_chunks)
    if child.returncode != 0:
        raise SystemExit(f"{label}: crawl failed ({child.returncode}):\n{stderr[-3000:]}")
    rendered = _stat(stderr, "backlinks/render/pages")
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = {row["referring_url"]: row for row in iter_current(session)}
    engine.dispose()
    return Result(
        label,
        int(rendered or 0),
        sum(rows[p]["status"] == "live" for p in js_pages),
        sum(rows[p]["status"] == "live" for p in static_pages),
        wall,
        peak / 2**20,
        crawler_cpu,
        usage.ru_utime + usage.ru_stime,
        renders=int(_stat(stderr, "backlinks/render/requests") or 0),
        timeouts=int(_stat(stderr, "backlinks/render/failed/timeout") or 0),
        p50=_stat(stderr, "backlinks/render/seconds_p50"),
        p95=_stat(stderr, "backlinks/render/seconds_p95"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--static", type=int, default=1000, help="server-rendered pages (default 1000)")
    parser.add_argument("--js", type=int, default=50, help="JS-only pages (default 50)")
    parser.add_argument("--web", choices=["simweb", "tiny"], default="simweb", help="which pages (default simweb)")
    parser.add_argument("--runs", type=int, default=3, help="runs of never and auto; the median is reported (default 3)")
    parser.add_argument("--subresources", type=int, default=0,
                        help="simweb: third-party sub-resources per page, some slow, hanging or failing (default 0)")
    parser.add_argument("--modes", default="never,auto,always", help="which of never,auto,always to run (default all)")
    args = parser.parse_args()
    modes = set(args.modes.split(","))
    runs: dict[str, list[Result]] = {"never": [], "auto": []}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="render-bench-")))
        if args.web == "tiny":
            pages = _tiny_pages(stack.enter_context(JsSite()), args.static, args.js)
        else:
            config = simweb_config(args.static, args.js, args.subresources)
            pages = _simweb_pages(config, stack.enter_context(SimWebProcess(config)).port, args.static, args.js)
        rows, static_pages, js_pages = pages

        def crawl(label: str, mode: str, url: str) -> Result:
            result = _crawl(label, url, mode, static_pages, js_pages)
            print(f"  {label}: {result.wall:.1f} s", file=sys.stderr)
            return result

        def fresh(name: str) -> str:
            (tmp / name).mkdir()
            return backlinks_database(tmp / name, sorted(rows))

        results: list[Result] = []
        for n in range(args.runs):
            for mode in ("never", "auto"):
                if mode in modes:
                    runs[mode].append(crawl(mode, mode, url := fresh(f"{mode}{n}")))
            if n == 0 and "auto" in modes:  # the same database, a night later
                night2 = crawl("auto, night 2", "auto", url)
        for mode in ("never", "auto"):
            if runs[mode]:
                results.append(sorted(runs[mode], key=lambda r: r.wall)[len(runs[mode]) // 2])
                if mode == "auto":
                    results.append(night2)
        if "always" in modes:
            results.append(crawl("always", "always", fresh("always")))
    web = args.web + (f", {args.subresources} sub-resources a page" if args.subresources else "")
    print(f"\n{args.static} static + {args.js} JS-only pages ({web}), one backlink each\n")
    print(f"{'render':<15}{'rendered':>10}{'JS links':>12}{'static live':>13}{'wall s':>9}{'peak MB':>9}"
          f"{'CPU s':>8}{'crawler':>9}{'browser':>9}{'render p50':>12}{'p95':>7}{'timeouts':>14}")
    for r in results:
        seconds = f"{r.p50:>12.2f}{r.p95:>7.2f}" if r.p50 is not None and r.p95 is not None else f"{'-':>12}{'-':>7}"
        timeouts = f"{r.timeouts}/{r.renders} {r.timeouts / r.renders:.1%}" if r.renders else "-"
        print(f"{r.label:<15}{r.rendered:>10}{f'{r.js_found}/{args.js}':>12}{f'{r.static_live}/{args.static}':>13}"
              f"{r.wall:>9.1f}{r.peak_mb:>9.0f}{r.cpu:>8.1f}{r.crawler_cpu:>9.1f}{r.cpu - r.crawler_cpu:>9.1f}"
              f"{seconds}{timeouts:>14}")
    print()
    for mode, done in runs.items():
        if done:
            print(f"{mode} wall s over {args.runs} runs: " + ", ".join(f"{r.wall:.1f}" for r in done))
    by_label = {r.label: r for r in results}
    if "never" in by_label and "auto" in by_label:
        never, auto = by_label["never"], by_label["auto"]
        print(f"\nauto finds {auto.js_found / max(args.js, 1):.0%} of JS-only links (goal 100%); "
              f"auto/never wall {auto.wall / never.wall:.2f}x (goal <= 1.3x)")
        if "always" in by_label:
            print(f"always/auto wall {by_label['always'].wall / auto.wall:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
