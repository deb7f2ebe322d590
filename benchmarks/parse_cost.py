"""CPU per page of the ways to parse a page, on the simulated web's pages. Not a test.

    .venv/bin/python benchmarks/parse_cost.py [--backlinks 1500] [--sites 500]

The pages are those `benchmarks/verify_bench.py` crawls (same seed and sizes), rendered in-process.
Printed, best of five, CPU ms per page:

- lxml through parsel, as the crawler parsed pages before ``parse_html``;
- ``parse_html`` (lxml, then the repairs of crawler/core/extract/html.py);
- selectolax (lexbor, an HTML5 tree builder) alone;
- lexbor, then an lxml tree built from its tree in Python: what using an HTML5 parser for every page
  while keeping parsel, XPath and our extractor would cost;
- ``observe_page`` as a whole (parse, links, page facts, matching one domain-mode backlink).

The figures are in docs/parsing.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

import parsel
from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from crawler.core.extract import parse_html
from crawler.core.items import DueBacklink, MatchMode
from crawler.core.observe import Fetched, observe_page
from tests.support.simweb import SimConfig, iter_pages
from tests.support.simweb.model import Renderer


def lexbor_to_lxml(text: str) -> etree._Element:
    """An lxml tree with lexbor's elements, attributes and text (comments and doctypes left out)."""
    root = LexborHTMLParser(text).root
    builder = etree.TreeBuilder()
    if root is None:
        return etree.Element("html")
    builder.start("html", {k: v or "" for k, v in root.attributes.items()})
    node, depth = root.child, 0
    while node is not None:
        tag = node.tag
        if tag == "-text":
            builder.data(node.text_content or "")
        elif tag and tag[0] != "-" and tag != "_comment":
            # lexbor keeps "xlink:href" as a name; lxml refuses colons in plain attribute names.
            builder.start(tag, {k: v or "" for k, v in node.attributes.items() if ":" not in k})
            if node.child is not None:
                node, depth = node.child, depth + 1
                continue
            builder.end(tag)
        while node.next is None and depth > 0:
            node, depth = node.parent, depth - 1
            builder.end(node.tag)
        node = node.next
    builder.end("html")
    return builder.close()


def best_ms(bodies: list[str], work: Callable[[str], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for body in bodies:
            work(body)
        best = min(best, time.process_time() - start)
    return best / len(bodies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlinks", type=int, default=1500)
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    config = SimConfig(seed=options.seed, sites=options.sites)
    renderer = Renderer(config.seed)
    bodies = [renderer.page(p) for p in iter_pages(config, options.backlinks) if p.status in (200, 301)]
    due = [DueBacklink(id=1, target_url="http://site00001.test/", match=MatchMode.DOMAIN)]
    at = datetime.now(UTC)

    def observe(body: str) -> object:
        page = Fetched(url="http://x.test/", final_url="http://x.test/", http_status=200,
                       headers={"content-type": ["text/html"]}, body=body.encode(), text=body)
        return observe_page(due, page, at)

    size = sum(map(len, bodies)) / len(bodies) / 1024
    print(f"{len(bodies)} pages, {size:.0f} KiB on average; CPU ms per page, best of 5")
    for name, work in (
        ("lxml through parsel", lambda body: parsel.Selector(text=body, type="html")),
        ("parse_html (lxml + repairs)", parse_html),
        ("lexbor alone", LexborHTMLParser),
        ("lexbor, then an lxml tree from it", lexbor_to_lxml),
        ("observe_page", observe),
    ):
        print(f"  {name:36} {best_ms(bodies, work):6.2f}")


if __name__ == "__main__":
    main()
