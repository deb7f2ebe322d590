"""Link quality signals: template placement, site-wide links, crowded pages, pages of paid links,
reciprocal links and link farms (shared address, shared template); computed from what a real crawl
stored (the demo web's network and reciprocal links: tests/test_crawl.py)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parsel import Selector
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.extract.html import parse_html
from crawler.core.extract.links import scan_links
from crawler.core.extract.template import template_fingerprint
from crawler.core.signals import signals
from crawler.demo.run import crawl_env
from pipelines.imports import import_clean
from tests.support import fault_server
from tests.support.fault_server import FaultServer, Writer, crawl_command, crawl_measured, respond

SHOP = "https://www.example-shop.test/"


def test_sponsored_links_are_counted_in_the_one_pass() -> None:
    html = ('<a href="https://a.test/" rel="sponsored">a</a><a href="https://b.test/" rel="NOFOLLOW sponsored">b</a>'
            '<a href="https://c.test/" rel="nofollow&nbsp;sponsored">c</a><a href="/own" rel="sponsored">own</a>'
            '<a href="https://d.test/">d</a>')
    scan = scan_links(Selector(text=html), "https://page.test/p")
    # The no-break space makes one unknown token, as in a browser; a link to the page's own host is not external.
    assert (scan.external_links, scan.sponsored_links) == (4, 2)


@pytest.mark.parametrize(("args", "names", "share"), [
    (("main", 0, 3, 0), [], 0.0),
    (("footer", 1, 3, 0), ["template_placement"], 0.0),
    (("footer", 2, 3, 0), ["template_placement", "sitewide"], 0.0),
    (("main", 5, 120, 0), ["crowded_page"], 0.0),
    (("main", 0, 6, 3), ["mostly_sponsored"], 0.5),
    (("main", 0, 4, 4), [], 1.0),  # too few links to say
    (("main", 0, None, None), [], None),  # a check from before sponsored links were counted
    ((None, 0, 0, 0), [], None),
])
def test_signals(args: tuple[Any, ...], names: list[str], share: float | None) -> None:
    found = signals(*args)
    assert found.names == names and found.sponsored_share == share


def _page(links: str) -> str:
    return f"<!doctype html><html><body><main><p>{links}</p></main><footer>{{footer}}</footer></body></html>"


PAGES = {
    "plain": _page(f'<a href="{SHOP}">Example Shop</a>').replace("{footer}", ""),
    "paid": _page("".join(f'<a href="https://ad{i}.test/" rel="sponsored">ad</a>' for i in range(6)) + f'<a href="{SHOP}">shop</a>')
    .replace("{footer}", ""),
    "crowded": _page("".join(f'<a href="https://x{i}.test/">x</a>' for i in range(120)) + f'<a href="{SHOP}">shop</a>')
    .replace("{footer}", ""),
    "site": _page("Hello").replace("{footer}", f'Partner: <a href="{SHOP}">Example Shop</a>'),
}


async def _handle(_s: FaultServer, writer: Writer, path: str) -> None:
    if path == "/robots.txt":
        await respond(writer, 404, "")
    else:
        await respond(writer, 200, PAGES[path.strip("/").split("/")[0]])


@pytest.fixture
def crawled(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    monkeypatch.setitem(fault_server.HANDLERS, "signals", _handle)
    server = FaultServer().start()
    try:
        source = tmp_path / "s.csv"
        paths = ["/plain", "/paid", "/crowded", "/site/a", "/site/b"]
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match"])
            writer.writerows([f"http://signals.test:{server.port}{path}", SHOP, "domain"] for path in paths)
        import_clean(db_url, source)
        env = crawl_env(db_url)
        env.update(BACKLINKS_RESOLVE="*.test=127.0.0.1", BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32")
        result = crawl_measured(crawl_command(["all=1"], {"RETRY_TIMES": "0"}), env, cwd=str(tmp_path))
        assert result.returncode == 0, result.stderr[-2000:]
        shown = CliRunner().invoke(app, ["--database", db_url, "signals", "--format", "jsonl"])
        assert shown.exit_code == 0, shown.output
        yield [json.loads(line) for line in shown.stdout.splitlines()]
    finally:
        server.stop()


def test_a_real_crawl_records_the_signals(crawled: list[dict[str, Any]]) -> None:
    by_path = {row["referring_url"].split("/", 3)[3]: row for row in crawled}
    assert {path: row["signals"] for path, row in by_path.items()} == {
        "plain": [], "paid": ["mostly_sponsored"], "crowded": ["crowded_page"],
        "site/a": ["template_placement", "sitewide"], "site/b": ["template_placement", "sitewide"],
    }
    assert (by_path["paid"]["external_links"], by_path["paid"]["sponsored_share"]) == (7, 0.857)
    assert by_path["site/a"]["position"] == "footer"


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"reciprocal": True}, ["reciprocal"]),
    ({"address_domains": 2, "template_domains": 2}, []),  # two sites of one owner: common and harmless
    ({"address_domains": 3}, ["shared_address"]),
    ({"template_domains": 5}, ["shared_template"]),
])
def test_link_farm_and_reciprocal_signals(kwargs: dict[str, Any], names: list[str]) -> None:
    assert signals("main", 0, 3, 0, **kwargs).names == names


def _themed(name: str, menu: int, sheet: str = "/wp-content/themes/linkwheel/style.css?ver=2") -> str:
    items = "".join(f'<li class="menu-item"><a href="/{i}">{name} {i}</a></li>' for i in range(menu))
    return (f'<html><head><link rel="stylesheet" href="https://cdn{menu}.test{sheet}"></head><body class="post-{menu}">'
            f'<header class="site-header"><nav class="main-nav"><ul class="menu">{items}</ul></nav></header>'
            f'<main><p class="lead">{name} writes about widgets.</p></main>'
            f'<footer class="site-footer"><p>{name}</p></footer></body></html>')


def _fingerprint(html: str, url: str = "https://a.test/") -> str | None:
    return template_fingerprint(parse_html(html).root, url)


def test_one_theme_has_one_fingerprint_whatever_the_words_menu_and_host() -> None:
    one = _fingerprint(_themed("Ann", 2), "https://ann.test/p")
    assert one is not None and len(one) == 16
    assert _fingerprint(_themed("Bob", 5), "https://bob.test/q") == one  # other words, longer menu, CDN, body classes
    assert _fingerprint(_themed("Ann", 2, "/wp-content/themes/other/style.css")) != one
    assert _fingerprint(_themed("Ann", 2).replace("site-footer", "colophon")) != one


@pytest.mark.parametrize("html", [
    "<html><body><header><a class='logo' href='/'>Site</a></header><p>bare markup</p></body></html>",
    "<html><body><main class='a b c d'><p class='x'>classes outside the template say nothing</p></main></body></html>",
])
def test_too_little_template_has_no_fingerprint(html: str) -> None:
    assert _fingerprint(html) is None
