"""Target health: the verdict on one of the user's own pages, claims that make several processes of a
run check each page once, and the stored verdicts with the backlinks they affect.

The real crawl of the demo web's targets is in tests/test_crawl.py."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.core.outcome import Status
from crawler.core.scope import Scope
from crawler.core.targets import Verdict, judge_target, linked_domains, parse_own_pages, target_failure
from crawler.core.extract.html import parse_html
from crawler.core.observe import Fetched
from pipelines.db import make_engine, make_sessionmaker, upgrade
from pipelines.imports import import_clean
from pipelines.models import Run
from pipelines.targets import claim_targets, latest_checks, reciprocal_domains, store_targets, target_health

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
HTML = {"content-type": ["text/html; charset=utf-8"]}
URL = "https://me.test/products/widget"


def _response(url: str, final_url: str, status: int, headers: dict[str, list[str]], redirects: list[str], body: bytes,
              text: str | None) -> Fetched:
    return Fetched(url=url, final_url=final_url, http_status=status, headers=headers, redirects=redirects, body=body, text=text)


def _page(head: str = "", body: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("final_url", "status", "headers", "redirects", "text", "verdict", "detail"),
    [
        (URL, 200, HTML, [], _page(body="A widget"), Verdict.OK, "HTTP 200"),
        (URL, 404, HTML, [], _page(body="Not found"), Verdict.NOT_FOUND, "HTTP 404"),
        (URL, 410, HTML, [], _page(), Verdict.NOT_FOUND, "HTTP 410"),
        (URL, 503, HTML, [], _page(), Verdict.SERVER_ERROR, "HTTP 503"),
        (URL, 200, HTML, [], _page('<meta name="robots" content="noindex, follow">'), Verdict.NOINDEX, "noindex"),
        (URL, 200, {**HTML, "x-robots-tag": ["noindex"]}, [], _page(), Verdict.NOINDEX, "noindex"),
        ("https://me.test/widgets", 200, HTML, [URL], _page(), Verdict.REDIRECTED, "1 redirect"),
        ("https://me.test/w", 200, HTML, [URL, "https://me.test/x"], _page(), Verdict.REDIRECTED, "2 redirects"),
        # noindex at the end of a redirect is the worse news
        ("https://me.test/w", 200, HTML, [URL], _page('<meta name="robots" content="noindex">'), Verdict.NOINDEX, "noindex"),
        (URL, 200, HTML, [], _page('<link rel="canonical" href="/products/widget-2">'), Verdict.CANONICALIZED,
         "canonical elsewhere"),
        # a canonical that is the page itself, tracking parameters and fragment aside
        (URL, 200, HTML, [], _page(f'<link rel="canonical" href="{URL}?utm_source=x#top">'), Verdict.OK, "HTTP 200"),
        # not HTML: a PDF is a fine target, unless its header says noindex
        (URL, 200, {"content-type": ["application/pdf"]}, [], None, Verdict.OK, "HTTP 200"),
        (URL, 200, {"content-type": ["application/pdf"], "x-robots-tag": ["googlebot: noindex"]}, [], None,
         Verdict.NOINDEX, "noindex"),
    ],
)
def test_judge_target(final_url: str, status: int, headers: dict[str, list[str]], redirects: list[str], text: str | None,
                      verdict: Verdict, detail: str) -> None:
    body = (text or "%PDF-1.4").encode()
    check = judge_target(_response(URL, final_url, status, headers, redirects, body, text), AT)
    assert (check.verdict, check.detail) == (verdict, detail)
    assert (check.url, check.final_url, check.redirects, check.http_status) == (URL, final_url, redirects, status)


def test_failures_are_not_judged_except_robots() -> None:
    assert target_failure(URL, Status.TIMEOUT, "timeout", AT).verdict is Verdict.UNREACHABLE
    assert target_failure(URL, Status.NETWORK_ERROR, "dns", AT).detail == "network_error: dns"
    assert target_failure(URL, Status.BLOCKED_ROBOTS, "robots.txt", AT).verdict is Verdict.BLOCKED_ROBOTS


def test_linked_domains_are_registrable_other_sites_once_each() -> None:
    body = ('<base href="https://cdn.me.test/"><a href="https://www.blog.example/a">a</a><a href="//blog.example/b">b</a>'
            '<a href="/own">own</a><a href="https://shop.me.test/">sub</a><a href="mailto:x@y.example">m</a>'
            '<area href="https://maps.example.co.uk/x"><a href="https://[::1">bad</a>')
    assert linked_domains(parse_html(_page(body=body)).root, "https://me.test/partners") == ["blog.example", "example.co.uk"]


def test_hostile_target_values_are_stored_clean() -> None:
    check = judge_target(_response(URL, URL + "\x1b[2J" + "x" * 9000, 200, HTML, [], b"x", _page()), AT)
    assert "\x1b" not in (check.final_url or "") and len(check.final_url or "") <= 4096


@pytest.mark.parametrize(("spec", "pages"), [
    ("", ()),
    ("https://me.test/links, https://me.test/partners https://me.test/links", ("https://me.test/links", "https://me.test/partners")),
])
def test_parse_own_pages(spec: str, pages: tuple[str, ...]) -> None:
    assert parse_own_pages(spec) == pages


@pytest.mark.parametrize("spec", ["me.test/links", "ftp://me.test/", "https://user:pw@me.test/"])
def test_bad_own_pages_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="own page"):
        parse_own_pages(spec)


def _database(db_url: str, tmp_path: Path) -> tuple[object, object]:
    source = tmp_path / "b.csv"
    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["referring_url", "target_url", "match"])
        writer.writerows([["https://a.test/1", URL, "exact"], ["https://b.test/2", URL, "exact"],
                          ["https://c.test/3", "https://me.test/", "domain"]])
    engine = make_engine(db_url)
    upgrade(engine)
    import_clean(db_url, source)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        runs = [Run(started_at=AT, status="running", arguments={}, counts={}, events={}) for _ in range(2)]
        session.add_all(runs)
        session.flush()
        ids = [run.id for run in runs]
    return engine, (sessions, ids)


def test_processes_of_one_run_claim_each_target_once(db_url: str, tmp_path: Path) -> None:
    engine, (sessions, (run, other_run)) = _database(db_url, tmp_path)
    try:
        first = claim_targets(sessions, run, [URL, "https://me.test/", URL], AT)
        second = claim_targets(sessions, run, ["https://me.test/", "https://me.test/links"], AT)
        assert first == [URL, "https://me.test/"] and second == ["https://me.test/links"]
        assert claim_targets(sessions, other_run, [URL], AT) == [URL]  # the next run checks it again
        store_targets(sessions, run, [
            judge_target(_response(URL, URL, 404, HTML, [], b"x", _page()), AT),
            judge_target(_response("https://me.test/links", "https://me.test/links", 200, HTML, [URL], b"x",
                                   _page(body='<a href="https://a.test/">A</a>')), AT),
        ])
        with sessions() as session:
            # other_run's claim of URL is still unjudged: the last judged check stands
            assert latest_checks(session)[URL].verdict == "not_found"
            assert reciprocal_domains(session) == {"a.test": ["https://me.test/links"]}
            links = latest_checks(session)["https://me.test/links"]
            assert (links.verdict, links.redirects, links.checked_at) == ("redirected", [URL], AT)
            health = target_health(session, Scope())
        assert [(row["target_url"], row["verdict"], row["backlinks"], row["live_backlinks"]) for row in health] == [
            (URL, "not_found", 2, 0), ("https://me.test/", "unchecked", 1, 0),
        ]
    finally:
        engine.dispose()
