"""`scrapy crawl verify` on real saved pages, judged against Chromium's DOM. Prints figures; not a test.

    .venv/bin/python benchmarks/real_crawl.py                  # render=never and render=auto, one night each
    .venv/bin/python benchmarks/real_crawl.py --modes auto --nights 2
    .venv/bin/python benchmarks/real_crawl.py --show 10        # also list up to 10 wrong cases

The 105 pages of ``benchmarks/corpus/`` are served on loopback, each at
``http://corpus.test:PORT/<set>/<file>/``; everything else on that host answers 404, and every other
host fails to resolve (``BACKLINKS_RESOLVE``), so a page's own stylesheets, scripts, trackers and
fonts all fail, as unreachable third parties do, and no request leaves the machine.

Cases, per page: up to three links to other sites taken from Chromium's DOM (``benchmarks/corpus/
dom.json``: first, middle and last), each imported as an exact backlink and expected ``live``; and
one target the page does not link to, expected ``missing_unconfirmed`` (``link_removed``) on the
first night and ``lost`` from the second. A case is right when the crawl's status is the expected
one; the figures are the share of right cases and every other (expected, got, reason) with its count,
marked "false miss" (a live link reported missing or lost: the error we promise never to make) or
"inconclusive" (a status that claims nothing about the link).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent

from benchmarks.real_pages import CORPUS, DOM, _web
from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.core.outcome import Status
from crawler.shell.webserver import BackgroundServer
from pipelines.db import make_engine, make_sessionmaker
from pipelines.queries import iter_current

HOST = "corpus.test"
MISSES = {Status.MISSING_UNCONFIRMED.value, Status.LOST.value}
INCONCLUSIVE = {status.value for status in Status if status.inconclusive}
SETTINGS = {
    "BACKLINKS_RESOLVE": f"{HOST}=127.0.0.1,*=!",
    "DOWNLOAD_TIMEOUT": "20",
    "CONCURRENT_REQUESTS": "16",
}


class CorpusSite(BackgroundServer):
    thread_name = "corpus"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{set}/{name}/", self._page)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        path = CORPUS / request.match_info["set"] / f"{request.match_info['name']}.html.gz"
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=gzip.decompress(path.read_bytes()), content_type="text/html", charset="utf-8")


def cases(port: int) -> list[tuple[str, str, str]]:
    """(referring URL, target URL, expected status) for every page of the corpus."""
    import json

    dom = json.loads(DOM.read_text())
    found: list[tuple[str, str, str]] = []
    for number, (page, links) in enumerate(sorted(dom.items())):
        referring = page.replace(f"//{HOST}/", f"//{HOST}:{port}/")
        external = list(dict.fromkeys(
            link["href"] for link in links if _web(link["href"]) and urlsplit(link["href"]).hostname != HOST
        ))
        picks = dict.fromkeys(external[i] for i in (0, len(external) // 2, -1)) if external else {}
        found += [(referring, target, "live") for target in picks]
        found.append((referring, f"https://never-linked-{number}.example/page", "missing"))
    return found


def night_status(expected: str, night: int) -> str:
    if expected == "missing":
        return "missing_unconfirmed" if night == 1 else "lost"
    return expected


def run(mode: str, nights: int, port: int, show: int) -> None:
    rows = cases(port)
    expected = {(referring, target): status for referring, target, status in rows}
    with tempfile.TemporaryDirectory(prefix="real-crawl-") as workdir:
        url = backlinks_database(Path(workdir), [(r, t, "exact") for r, t, _ in rows])
        for night in range(1, nights + 1):
            started = time.monotonic()
            done = crawl(url, ["all=1", f"render={mode}"], SETTINGS, log_level="INFO")
            wall = time.monotonic() - started
            if done.returncode != 0:
                raise SystemExit(f"{mode} night {night}: crawl failed ({done.returncode}):\n{done.stderr[-3000:]}")
            engine = make_engine(url)
            with make_sessionmaker(engine)() as session:
                current = list(iter_current(session))
            engine.dispose()
            wrong: Counter[tuple[str, str, str]] = Counter()
            examples: list[str] = []
            right = 0
            for row in current:
                want = night_status(expected[(row["referring_url"], row["target_url"])], night)
                if row["status"] == want:
                    right += 1
                else:
                    wrong[(want, row["status"], str(row["reason"]))] += 1
                    examples.append(f"{row['referring_url']} -> {row['target_url']}: {row['status']} {row['reason']}")
            live = sum(expected[(row["referring_url"], row["target_url"])] == "live" for row in current)
            print(f"render={mode} night {night}: {len(current)} cases ({live} live, {len(current) - live} absent) "
                  f"on {len({r for r, _ in expected})} pages, {wall:.1f} s")
            print(f"  right  {right} of {len(current)}  ({100 * right / len(current):.2f}%)")
            for (want, got, reason), count in wrong.most_common():
                kind = "false miss" if got in MISSES else "inconclusive" if got in INCONCLUSIVE else "wrong"
                print(f"  {kind:<12} {count:>4}  expected {want}, got {got} ({reason})")
            for example in examples[:show]:
                print(f"    {example}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="never,auto", help="comma-separated render modes (default never,auto)")
    parser.add_argument("--nights", type=int, default=1)
    parser.add_argument("--show", type=int, default=0, metavar="N", help="list up to N wrong cases per night")
    args = parser.parse_args()
    with CorpusSite() as site:
        for mode in args.modes.split(","):
            run(mode.strip(), args.nights, site.port, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
