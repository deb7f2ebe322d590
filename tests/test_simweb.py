"""The simulated web: deterministic pages, realistic sizes, and backlinks our extraction agrees with."""

from __future__ import annotations

import csv
import http.client
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.demo.run import crawl
from tests.support.crawls import backlinks_database
from crawler.core.importers import read_backlinks
from crawler.core.items import DueBacklink, MatchMode
from crawler.core.observe import Fetched, observe_page
from crawler.core.outcome import Miss, Status
from tests.support.simweb import (
    Kind,
    SimConfig,
    SimWeb,
    SimWebProcess,
    expected,
    iter_backlinks,
    iter_pages,
    page_at,
    page_by_index,
    robots_txt,
    write_backlinks_csv,
)
from tests.support.simweb.model import Renderer, parse_host, site_host, subresource_markup
from tests.support.simweb.server import config_arguments, config_from_arguments
from pipelines.db import make_engine, make_sessionmaker
from pipelines.models import Backlink, State

CONFIG = SimConfig(seed=7, sites=50)
AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def web() -> Iterator[SimWeb]:
    with SimWeb(CONFIG) as server:
        yield server


def get(port: int, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One request to the loopback server with ``host`` in the Host header, as a crawler sends it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --- The model: pure and deterministic ---------------------------------------------------------------


def test_pages_are_deterministic_per_seed() -> None:
    renderer = Renderer(CONFIG.seed)
    first = [page_by_index(CONFIG, i) for i in range(40)]
    again = [page_by_index(CONFIG, i) for i in range(40)]
    assert first == again
    assert [renderer.page(p) for p in first[:5]] == [Renderer(CONFIG.seed).page(p) for p in again[:5]]
    other = [page_by_index(SimConfig(seed=8, sites=50), i) for i in range(40)]
    assert [p.backlinks for p in first] != [p.backlinks for p in other]


def test_pages_go_round_robin_over_sites() -> None:
    pages = [page_by_index(CONFIG, i) for i in range(120)]
    assert [p.site for p in pages[:50]] == list(range(50))
    assert {p.number for p in pages[:50]} == {0}
    assert len({p.host for p in pages}) == 50


def test_page_sizes_follow_the_configured_distribution() -> None:
    renderer = Renderer(CONFIG.seed)
    pages = [page_by_index(CONFIG, i) for i in range(600)]
    sizes = [len(renderer.page(p).encode()) for p in pages if p.kind is Kind.OK]
    assert 85 * 1024 < statistics.median(sizes) < 120 * 1024
    assert max(sizes) <= 2048 * 1024 + 16 * 1024
    assert max(sizes) > 4 * statistics.median(sizes)  # a real tail, not a constant size


def test_pages_have_many_links_and_real_markup() -> None:
    renderer = Renderer(CONFIG.seed)
    page = next(p for p in (page_by_index(CONFIG, i) for i in range(100)) if p.kind is Kind.OK and p.size > 90_000)
    html = renderer.page(page)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<a ") > 100
    for marker in ("<nav", "<footer", "<aside", "<script", "<style", 'rel="canonical"'):
        assert marker in html


def test_kind_shares_are_roughly_as_configured() -> None:
    kinds = Counter(page_by_index(CONFIG, i).kind for i in range(5000))
    assert 0.8 < kinds[Kind.OK] / 5000 < 0.87
    for kind, share in ((Kind.JS, 0.04), (Kind.REDIRECT, 0.04), (Kind.PRIVATE, 0.02)):
        assert share / 2 < kinds[kind] / 5000 < share * 2, kind
    assert all(kinds[k] for k in Kind)


def test_shares_must_fit_in_one() -> None:
    with pytest.raises(ValueError, match="shares"):
        SimConfig(js_share=0.6, error_share=0.6)


def test_latency_and_jitter_bound_the_delay() -> None:
    config = SimConfig(seed=3, latency_ms=50, jitter_ms=20)
    delays = [page_by_index(config, i).delay for i in range(300)]
    assert all(0.030 <= d <= 0.070 for d in delays)
    assert len(set(delays)) > 100


def test_hosts_parse_back() -> None:
    assert parse_host(site_host(42)) == 42
    assert parse_host("SITE00042.test:8080") == 42
    assert parse_host("example.com") is None


def test_config_round_trips_through_command_line_arguments() -> None:
    config = SimConfig(seed=9, sites=12, latency_ms=5.5, removed_share=0.2)
    arguments = config_arguments(config)
    values = dict(zip(arguments[::2], arguments[1::2], strict=True))
    assert config_from_arguments({k[2:].replace("-", "_"): v for k, v in values.items()}) == config


# --- Backlinks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 7, 500])
def test_backlink_generator_gives_exactly_count_with_several_per_page(count: int) -> None:
    known = list(iter_backlinks(CONFIG, 8000, count))
    assert len(known) == count
    assert len({(k.referring_url, k.backlink.target_url) for k in known}) == count
    pages = Counter(k.referring_url for k in known)
    assert sum(1 for _ in iter_pages(CONFIG, count)) == len(pages)
    if count == 500:
        assert max(pages.values()) > 1 and statistics.mean(pages.values()) > 2
        assert len({k.page.host for k in known}) == CONFIG.sites  # many hosts, several pages each


def test_backlink_csv_imports_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "sim.csv"
    pages = write_backlinks_csv(path, CONFIG, 8123, 300)
    rows = list(read_backlinks(path))
    assert len(rows) == 300 and all(row.backlink is not None for row in rows)
    with path.open() as f:
        assert len({r["referring_url"] for r in csv.DictReader(f)}) == pages
    assert rows[0].backlink.referring_url.startswith("http://site00000.test:8123/")  # type: ignore[union-attr]


def test_robots_txt_disallows_private_pages_on_most_sites() -> None:
    bodies = [robots_txt(CONFIG, s) for s in range(CONFIG.sites)]
    present = [b for b in bodies if b is not None]
    assert 0 < len(bodies) - len(present) < len(bodies) / 3
    assert all("Disallow: /private/" in b for b in present)


# --- The server ----------------------------------------------------------------------------------------


def test_server_answers_any_site_host(web: SimWeb) -> None:
    page = next(p for p in (page_by_index(CONFIG, i) for i in range(200)) if p.kind is Kind.OK)
    status, headers, body = get(web.port, page.host, page.path)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert body.decode() == Renderer(CONFIG.seed).page(page)


def test_server_plays_errors_redirects_and_robots(web: SimWeb) -> None:
    pages = [page_by_index(CONFIG, i) for i in range(400)]
    for kind in (Kind.NOT_FOUND, Kind.GONE, Kind.SERVER_ERROR, Kind.FORBIDDEN):
        page = next(p for p in pages if p.kind is kind)
        assert get(web.port, page.host, page.path)[0] == page.status
    moved = next(p for p in pages if p.kind is Kind.REDIRECT)
    status, headers, _ = get(web.port, moved.host, moved.path)
    assert status == 301 and headers["location"] == moved.moved_path
    assert get(web.port, moved.host, moved.moved_path)[0] == 200
    for site in range(5):
        status, _, body = get(web.port, site_host(site), "/robots.txt")
        assert (status == 200) == (robots_txt(CONFIG, site) is not None)
        if status == 200:
            assert body.decode() == robots_txt(CONFIG, site)


def test_server_refuses_unknown_hosts_and_paths(web: SimWeb) -> None:
    page = page_by_index(CONFIG, 0)
    assert get(web.port, "example.test", page.path)[0] == 404
    assert get(web.port, site_host(CONFIG.sites), page.path)[0] == 404  # beyond the configured sites
    assert get(web.port, page.host, page.path + "-other")[0] == 404
    assert get(web.port, page.host, "/blog/x/y")[0] == 404


def test_server_process_prints_its_port_and_serves() -> None:
    config = SimConfig(seed=2, sites=3)
    with SimWebProcess(config) as server:
        page = page_by_index(config, 0)
        status, _, body = get(server.port, page.host, page.path)
        assert status == (200 if page.kind is not Kind.REDIRECT else 301)
        if page.status == 200:
            assert body.decode() == Renderer(config.seed).page(page)
    assert server.returncode == 0  # SIGTERM is a clean shutdown


# --- Empty 200s and delayed refreshes ------------------------------------------------------------------

BROKEN = SimConfig(seed=5, sites=20, empty_share=0.3, refresh_share=0.3)


def test_server_plays_empty_pages_and_delayed_refreshes(web: SimWeb) -> None:
    pages = [page_by_index(CONFIG, i) for i in range(3000)]
    for empty in [p for p in pages if p.kind is Kind.EMPTY][:2]:
        status, _, body = get(web.port, empty.host, empty.path)
        assert status == 200 and not body.strip()
    refreshes = [p for p in pages if p.kind is Kind.REFRESH]
    declared = set()
    for page in refreshes[:4]:
        status, headers, body = get(web.port, page.host, page.path)
        assert status == 200
        meta = b'http-equiv="refresh"' in body
        assert meta != ("refresh" in headers)  # the meta tag or the header, never both
        declared.add("meta" if meta else "header")
        value = headers.get("refresh") or body.decode().split('http-equiv="refresh" content="')[1].split('"')[0]
        delay, url = value.split("; url=")
        assert 10 <= int(delay) < 100 and url == page.moved_path
        assert get(web.port, page.host, page.moved_path)[0] == 404  # following it would be a false miss
    assert declared == {"meta", "header"}


def test_a_crawl_of_empty_pages_and_delayed_refreshes_gets_the_expected_outcomes(tmp_path: Path) -> None:
    """A real `scrapy crawl verify` over a web where most pages are empty or refresh late: every
    backlink gets what :func:`expected` says, and no refresh target is ever requested."""
    with SimWeb(BROKEN) as server:
        known = list(iter_backlinks(BROKEN, server.port, 120))
        url = backlinks_database(tmp_path, [(k.referring_url, k.backlink.target_url, k.backlink.match.value) for k in known])
        result = crawl(url, ["all=1", "render=never"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        hits = dict(server.hits)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        states = {(b.referring_url, b.target_url): (s.status, s.reason) for b, s in session.execute(
            select(Backlink, State).join(State, State.backlink_id == Backlink.id))}
    engine.dispose()
    kinds = Counter(k.page.kind for k in known)
    assert kinds[Kind.EMPTY] >= 10 and kinds[Kind.REFRESH] >= 10
    for k in known:
        want = expected(k.page, k.backlink, robots=robots_txt(BROKEN, k.page.site) is not None)
        assert states[(k.referring_url, k.backlink.target_url)] == (want[0].value, want[1]), k.page
    assert hits.get("unknown", 0) == 0  # /moved/N of a refresh page: never fetched


# --- Our extraction agrees with what the simulated web says it serves ----------------------------------


def test_observe_page_finds_exactly_the_expected_backlinks(web: SimWeb) -> None:
    """A static check of every served page yields :func:`expected` for each of its backlinks."""
    seen: Counter[str] = Counter()
    for page in iter_pages(CONFIG, 400):
        if page.kind is Kind.PRIVATE or page.kind is Kind.FORBIDDEN or page.kind is Kind.SERVER_ERROR:
            continue  # decided by robots.txt and the errback, not by the page
        path = page.moved_path if page.kind is Kind.REDIRECT else page.path
        status, headers, body = get(web.port, page.host, path)
        url = page.url(web.port)
        final = f"http://{page.host}:{web.port}{path}"
        fetched = Fetched(
            url=url, final_url=final, http_status=status, headers={k: [v] for k, v in headers.items()},
            redirects=[url] if final != url else [], body=body, text=body.decode(),
        )
        due = [DueBacklink(id=i, target_url=b.target_url, match=b.match) for i, b in enumerate(page.backlinks)]
        observations = observe_page(due, fetched, AT)
        # Markup a parser reads unlike a browser: removed links kept in <template>, SVG links.
        seen["template"] += b"<template><p>" in body
        seen["svg"] += b"<a xlink:href=" in body
        for backlink, observation in zip(page.backlinks, observations, strict=True):
            assert (observation.status, observation.reason) == expected(page, backlink, robots=True), page
            seen[observation.status.value] += 1
            if observation.status is Status.LIVE and backlink.match is not MatchMode.DOMAIN:
                assert observation.follow == (backlink.rel is None)
    assert seen[Status.LIVE.value] > 100 and seen[Status.MISSING_UNCONFIRMED.value] > 10
    assert seen["template"] > 10 and seen["svg"] > 10, seen


@pytest.mark.parametrize(
    ("kind", "present", "robots", "outcome"),
    [
        (Kind.OK, True, True, (Status.LIVE, None)),
        (Kind.OK, False, True, (Status.MISSING_UNCONFIRMED, Miss.LINK_REMOVED.value)),
        (Kind.JS, True, True, (Status.MISSING_UNCONFIRMED, Miss.LINK_REMOVED.value)),
        (Kind.REDIRECT, False, True, (Status.MISSING_UNCONFIRMED, Miss.PAGE_REDIRECTED.value)),
        (Kind.NOINDEX, False, True, (Status.MISSING_UNCONFIRMED, Miss.NOINDEX.value)),
        (Kind.PRIVATE, True, True, (Status.BLOCKED_ROBOTS, "robots.txt")),
        (Kind.PRIVATE, True, False, (Status.LIVE, None)),
        (Kind.NOT_FOUND, True, True, (Status.MISSING_UNCONFIRMED, Miss.PAGE_NOT_FOUND.value)),
        (Kind.FORBIDDEN, True, True, (Status.BLOCKED_BOT, "403")),
        (Kind.EMPTY, True, True, (Status.SERVER_ERROR, "empty_body")),
        (Kind.REFRESH, True, True, (Status.LIVE, None)),  # a delayed refresh is no redirect
        (Kind.REFRESH, False, True, (Status.MISSING_UNCONFIRMED, Miss.LINK_REMOVED.value)),
    ],
)
def test_expected_outcomes(kind: Kind, present: bool, robots: bool, outcome: tuple[Status, str | None]) -> None:
    page = next(p for p in (page_at(CONFIG, s, n) for n in range(60) for s in range(50)) if p.kind is kind)
    backlink = page.backlinks[0]
    backlink = type(backlink)(backlink.target_url, backlink.match, backlink.anchor, backlink.rel, present)
    if not present:
        page = type(page)(page.seed, page.site, page.number, page.kind, page.status, page.size, page.delay,
                          (backlink,))
    assert expected(page, backlink, robots=robots) == outcome


# --- Heavy pages: many slow and failing sub-resources -----------------------------------------------------

HEAVY = SimConfig(seed=7, sites=50, subresources=60)


def test_heavy_pages_have_slow_hanging_and_failing_subresources() -> None:
    page = next(p for p in (page_by_index(HEAVY, i) for i in range(50)) if p.kind is Kind.OK)
    head, body = subresource_markup(HEAVY, page, 8080)
    assert subresource_markup(HEAVY, page, 8080) == (head, body)  # deterministic
    urls = re.findall(r'(?:src|href)="([^"]+)"', head + body)
    assert len(urls) == 60
    assert all("/sub/slow/" in url for url in re.findall(r'stylesheet" href="([^"]+)"', head))  # never hang
    kinds = Counter("hang" if "/sub/hang/" in u else "fail" if "/sub/fail/" in u or ":1/" in u else "slow" for u in urls)
    assert kinds["hang"] >= 3 and kinds["fail"] >= 5 and kinds["slow"] >= 30
    assert "<iframe" in body and "<script async" in body and "<img" in body
    assert subresource_markup(CONFIG, page, 8080) == ("", "")  # off by default


@pytest.fixture(scope="module")
def heavy() -> Iterator[SimWeb]:
    with SimWeb(HEAVY) as server:
        yield server


def test_heavy_pages_are_served_with_their_subresources_on_any_host(heavy: SimWeb) -> None:
    pages = [page_by_index(HEAVY, i) for i in range(50)]
    for page in (next(p for p in pages if p.kind is Kind.OK), next(p for p in pages if p.kind is Kind.JS)):
        status, _, body = get(heavy.port, page.host, page.path)
        assert status == 200 and body.decode().count("/sub/") >= 40
    started = time.monotonic()
    status, headers, _ = get(heavy.port, "cdn07.test", "/sub/slow/300/r0.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert time.monotonic() - started >= 0.3
    assert get(heavy.port, "ads01.test", "/sub/fail/r3.js")[0] == 500
    hanging = heavy.hits["sub_hang"]
    connection = http.client.HTTPConnection("127.0.0.1", heavy.port, timeout=0.5)
    connection.request("GET", "/sub/hang/r1.js", headers={"Host": "tracker03.test"})
    deadline = time.monotonic() + 10
    while heavy.hits["sub_hang"] == hanging:  # until the hanging handler has the request
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(TimeoutError):  # never answers
        connection.getresponse()
    connection.close()


def test_heavy_pages_keep_their_backlinks(heavy: SimWeb) -> None:
    for page in (p for p in iter_pages(HEAVY, 100) if p.kind is Kind.OK):
        status, headers, body = get(heavy.port, page.host, page.path)
        url = page.url(heavy.port)
        fetched = Fetched(url=url, final_url=url, http_status=status, headers={k: [v] for k, v in headers.items()},
                          body=body, text=body.decode())
        due = [DueBacklink(id=i, target_url=b.target_url, match=b.match) for i, b in enumerate(page.backlinks)]
        for backlink, observation in zip(page.backlinks, observe_page(due, fetched, AT), strict=True):
            assert (observation.status, observation.reason) == expected(page, backlink, robots=True)
