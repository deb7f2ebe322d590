"""How many pages that robots.txt disallows a crawl of the simulated web fetches. Not a test.

    .venv/bin/python benchmarks/robots_waiters.py
    .venv/bin/python benchmarks/robots_waiters.py --latency-ms 50 --backlinks 3000

A web of few hosts with many pages each (30% of them under /private/, which 90% of the sites'
robots.txt disallow) and robots.txt answering after ``--latency-ms``, so each host's pages reach the
robots policy while its robots.txt is still on its way. The answer must be 0: before the fix of
issue 12 item 7, every page after the first of a host read "no rules" and was fetched.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from tests.support.simweb import SimConfig, SimWeb, iter_backlinks, robots_txt
from tests.support.simweb.model import Kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlinks", type=int, default=900)
    parser.add_argument("--sites", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    config = SimConfig(seed=args.seed, sites=args.sites, private_share=0.3, latency_ms=args.latency_ms)
    with tempfile.TemporaryDirectory() as tmp, SimWeb(config) as web:
        known = list(iter_backlinks(config, web.port, args.backlinks))
        pages = {k.referring_url: k.page for k in known}
        private = [p for p in pages.values() if p.kind is Kind.PRIVATE]
        disallowed = [p for p in private if robots_txt(config, p.site) is not None]
        rows = [(k.referring_url, k.backlink.target_url, k.backlink.match.value) for k in known]
        url = backlinks_database(Path(tmp), rows)
        result = crawl(url, ["all=1", "render=never"], {"DOWNLOAD_TIMEOUT": "10"}, cwd=Path(tmp), timeout=600)
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        fetched = web.hits["private"] - (len(private) - len(disallowed))  # the allowed ones are fetched
    print(f"{len(pages)} pages on {config.sites} hosts, {len(disallowed)} disallowed by robots.txt "
          f"(answering after {args.latency_ms:.0f} ms): {fetched} of them fetched")


if __name__ == "__main__":
    main()
