"""Unlinked brand mentions: found on a page that lost its link, only in what a reader sees, as
whole words, never in a URL; an event when one appears and when it links again; a real crawl."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.core.changes import EventKind, detect
from crawler.core.items import DueBacklink
from crawler.core.mentions import Brands, BrandTermsError, find_mentions, parse_tag_terms, parse_terms
from crawler.core.observe import Fetched, observe_page
from crawler.core.outcome import Status
from crawler.demo.run import crawl_env
from pipelines.db import make_engine, make_sessionmaker
from pipelines.imports import import_clean
from pipelines.models import Backlink, Event
from tests.support import fault_server
from tests.support.fault_server import FaultServer, Writer, crawl_command, crawl_measured, page, respond

TERMS = ("Example Shop", "ExampleShop")


@pytest.mark.parametrize(("text", "terms"), [
    ("Example Shop, ExampleShop ,, ", ("Example Shop", "ExampleShop")), ("  Example   Shop ", ("Example Shop",)), ("", ()),
])
def test_parse_terms(text: str, terms: tuple[str, ...]) -> None:
    assert parse_terms(text) == terms


@pytest.mark.parametrize(("text", "message"), [("???", "needs a letter"), ("x" * 101, "at most 100"), (",".join(map(str, range(51))), "at most 50")])
def test_bad_terms(text: str, message: str) -> None:
    with pytest.raises(BrandTermsError, match=message):
        parse_terms(text)


@pytest.mark.parametrize(("text", "found"), [
    ("We bought ours at Example Shop. Great service!", ["We bought ours at Example Shop."]),
    ("we bought ours at EXAMPLE\u00a0  shop", ["we bought ours at EXAMPLE shop"]),
    ("Die Straße ist lang.", ["Die Straße ist lang."]),  # terms below: case folding (STRASSE)
    ("Example Shops are everywhere.", []),  # a whole word, not a prefix
    ("MyExampleShop rocks.", []),
    ("Visit https://www.exampleshop.com/widgets now.", []),  # inside a URL
    ("Visit exampleshop.com today.", []),  # a domain name is an address
    ("Buy at ExampleShop, the best.", ["Buy at ExampleShop, the best."]),
    ("A. ExampleShop. B. ExampleShop! C. ExampleShop? D. ExampleShop.", ["ExampleShop.", "ExampleShop!", "ExampleShop?"]),
])
def test_find_mentions(text: str, found: list[str]) -> None:
    assert find_mentions(text, (*TERMS, "STRASSE")) == found


def test_a_long_sentence_is_cut_around_the_mention() -> None:
    sentence = "word " * 200 + "Example Shop " + "word " * 200
    [found] = find_mentions(sentence, TERMS)
    assert len(found) <= 300 and "Example Shop" in found and found.startswith("…") and found.endswith("…")


BACKLINK = DueBacklink(id=1, target_url="https://www.example-shop.test/", match="domain")


def observed(body: str, terms: tuple[str, ...] = TERMS) -> list[Any]:
    html = page(body)
    fetched = Fetched(url="https://blog.test/p", final_url="https://blog.test/p", http_status=200,
                      headers={"content-type": ["text/html"]}, body=html.encode(), text=html)
    return observe_page([BACKLINK], fetched, datetime(2026, 11, 1, tzinfo=UTC), brands=Brands(terms))


def test_only_what_a_reader_sees_is_searched() -> None:
    hidden = ('<script>var shop = "Example Shop";</script><style>/* Example Shop */</style>'
              '<img alt="Example Shop" src="x.png"><a href="https://other.test/" title="Example Shop">elsewhere</a>')
    [obs] = observed(hidden)
    assert obs.status is Status.MISSING_UNCONFIRMED and obs.mentions == []
    [obs] = observed(hidden + " We still recommend Example Shop for widgets.")
    assert obs.mentions == ["elsewhere We still recommend Example Shop for widgets."]
    [obs] = observed('Buy at <a href="https://www.example-shop.test/">Example Shop</a>.')
    assert obs.status is Status.LIVE and obs.mentions == []  # it links: nothing to reclaim
    [obs] = observed("We still recommend Example Shop.", terms=())
    assert obs.mentions == []


def test_a_mention_is_an_event_and_so_is_the_link_coming_back() -> None:
    [live] = observed('<a href="https://www.example-shop.test/">Example Shop</a>')
    [named] = observed("We still recommend Example Shop.")
    state, changes = detect(None, live)
    state, changes = detect(state, named)
    assert [(c.kind, c.after) for c in changes] == [(EventKind.MENTION_FOUND, "We still recommend Example Shop.")]
    assert state.mentioned is True
    state, changes = detect(state, named)
    assert EventKind.MENTION_FOUND not in [c.kind for c in changes]  # told once
    state, changes = detect(state, live)
    assert EventKind.MENTION_LINKED in [c.kind for c in changes]
    assert state.mentioned is False


NIGHT = {"number": 1}
BODIES = (
    'We bought ours at <a href="https://www.example-shop.test/">Example Shop</a>.',
    "We bought ours at Example Shop \x1b[31mtoday. <script>x='ExampleShop'</script>",
    'Back: <a href="https://www.example-shop.test/">Example Shop</a>.',
)


async def _handle(_s: FaultServer, writer: Writer, path: str) -> None:
    if path == "/robots.txt":
        await respond(writer, 404, "")
    else:
        await respond(writer, 200, page(BODIES[NIGHT["number"] - 1]))


@pytest.fixture
def crawled(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setitem(fault_server.HANDLERS, "reviews", _handle)
    server = FaultServer().start()
    try:
        source = tmp_path / "m.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match"])
            writer.writerow([f"http://reviews.test:{server.port}/p", "https://www.example-shop.test/", "domain"])
        import_clean(db_url, source)
        env = crawl_env(db_url)
        env.update(BACKLINKS_RESOLVE="*.test=127.0.0.1", BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32",
                   BACKLINKS_BRAND_TERMS="Example Shop, ExampleShop")
        listed = []
        for number in (1, 2, 3):
            NIGHT["number"] = number
            result = crawl_measured(crawl_command(["all=1"], {"RETRY_TIMES": "0"}), env, cwd=str(tmp_path))
            assert result.returncode == 0, result.stderr[-2000:]
            shown = CliRunner().invoke(app, ["--database", db_url, "mentions", "--format", "jsonl"])
            listed.append([json.loads(line) for line in shown.stdout.splitlines()])
        engine = make_engine(db_url)
        with make_sessionmaker(engine)() as session:
            events = [(e.kind, e.after) for e in session.scalars(select(Event).join(Backlink).order_by(Event.id))]
        engine.dispose()
        yield {"listed": listed, "events": events}
    finally:
        server.stop()


def test_a_real_crawl_finds_the_mention_and_then_the_link(crawled: dict[str, Any]) -> None:
    before, named, back = crawled["listed"]
    assert before == [] and back == []
    [row] = named
    assert row["status"] == "missing_unconfirmed"
    assert row["mentions"] == ["We bought ours at Example Shop [31mtoday."]  # no script text, no escape
    kinds = [kind for kind, _ in crawled["events"]]
    assert kinds[:3] == ["first_seen", "mention_found", "recovered"] and "mention_linked" in kinds


@pytest.mark.parametrize(("spec", "parsed"), [
    ("", {}),
    ("client-a=Acme, Acme Corp; client-b = Widgets Inc;", {"client-a": ("Acme", "Acme Corp"), "client-b": ("Widgets Inc",)}),
    ("a=X; a=Y, X", {"a": ("X", "Y")}),
])
def test_parse_tag_terms(spec: str, parsed: dict[str, tuple[str, ...]]) -> None:
    assert parse_tag_terms(spec) == parsed


@pytest.mark.parametrize("spec", ["Acme", "=Acme", "client-a=", "client-a=???"])
def test_bad_tag_terms_are_refused(spec: str) -> None:
    with pytest.raises(BrandTermsError):
        parse_tag_terms(spec)


def test_a_backlink_gets_the_terms_of_everyone_and_of_its_tags() -> None:
    brands = Brands.of(["Example Shop"], {"client-a": ["Acme"], "client-b": ["Widgets Inc", "Example Shop"]})
    assert brands.tags == ("client-a", "client-b")
    assert brands.terms(()) == ("Example Shop",)
    assert brands.terms(["client-b", "other"]) == ("Example Shop", "Widgets Inc")
    assert not Brands() and Brands.of([], {"a": ["X"]})


AGENCY_PAGE = page("<p>Acme makes anvils.</p><p>Widgets Inc makes widgets.</p>")


async def _agency(_s: FaultServer, writer: Writer, path: str) -> None:
    await respond(writer, 404 if path == "/robots.txt" else 200, "" if path == "/robots.txt" else AGENCY_PAGE)


def test_a_real_crawl_searches_each_clients_pages_for_that_clients_names(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(fault_server.HANDLERS, "agency", _agency)
    server = FaultServer().start()
    try:
        source = tmp_path / "agency.csv"
        with source.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["referring_url", "target_url", "match", "tags"])
            writer.writerow([f"http://agency.test:{server.port}/a", "https://acme.test/", "domain", "client-a"])
            writer.writerow([f"http://agency.test:{server.port}/b", "https://widgets.test/", "domain", "client-b"])
            writer.writerow([f"http://agency.test:{server.port}/c", "https://other.test/", "domain", "client-c"])
        import_clean(db_url, source)
        env = crawl_env(db_url)
        env.update(BACKLINKS_RESOLVE="*.test=127.0.0.1", BACKLINKS_ALLOWED_NETWORKS="127.0.0.1/32",
                   BACKLINKS_BRAND_TERMS_BY_TAG="client-a=Acme; client-b=Widgets Inc")
        result = crawl_measured(crawl_command(["all=1"], {"RETRY_TIMES": "0"}), env, cwd=str(tmp_path))
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        server.stop()
    shown = CliRunner().invoke(app, ["--database", db_url, "mentions", "--format", "jsonl"])
    rows = {row["referring_url"].rsplit("/", 1)[1]: row["mentions"] for row in map(json.loads, shown.stdout.splitlines())}
    assert rows == {"a": ["Acme makes anvils."], "b": ["Widgets Inc makes widgets."]}  # client-c has no names
