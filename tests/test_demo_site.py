"""The demo web serves what its scenario table promises, on any Host header, night by night."""

from __future__ import annotations

import csv
import http.client
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from crawler.demo.site import (
    DISCARD_PORT,
    FARM_HOSTS,
    LINK_FARM_ADDRESS,
    OUTLET_GONE,
    OUTLET_PARTNERS,
    OUTLET_PREVIEW,
    OUTLET_SALE,
    OUTLET_SALE_END,
    NIGHTS,
    ROBOTS_DISALLOWED_PREFIX,
    OUTLET_HOST,
    ROBOTS_HOST,
    SCENARIOS,
    SLOW_DELAY,
    SLOW_DELAY_CAP,
    TOO_LARGE_BYTES,
    UNREACHABLE_HOST,
    DemoSite,
    Scenario,
    scenario_url,
    write_backlinks_csv,
)
from crawler.core.items import MatchMode
from crawler.core.outcome import INCONCLUSIVE, Miss, Status

# 0.05 * 8 s: the slow page takes 0.4 s here, enough to measure, short enough for a fast suite.
DELAY_SCALE = 0.05
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


@pytest.fixture(scope="module")
def server() -> Iterator[DemoSite]:
    with DemoSite(delay_scale=DELAY_SCALE) as site:
        yield site


@pytest.fixture
def site(server: DemoSite) -> DemoSite:
    server.night = 1
    server.hits.clear()
    return server


@dataclass(frozen=True)
class Reply:
    url: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(site: DemoSite, url: str, method: str = "GET", timeout: float = 5.0) -> Reply:
    """Request ``url`` (a fake host) from the demo server, as the crawler's resolver would route it."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=timeout)
    try:
        connection.request(method, parts.path or "/", headers={"Host": parts.netloc})
        response = connection.getresponse()
        return Reply(url, response.status, response.headers, response.read())
    finally:
        connection.close()


def fetch_following(site: DemoSite, url: str) -> list[Reply]:
    """Every reply of a redirect chain, the final one last."""
    replies = [fetch(site, url)]
    while replies[-1].status in (301, 302, 307, 308) and len(replies) < 5:
        replies.append(fetch(site, urljoin(replies[-1].url, replies[-1].headers["Location"])))
    return replies


def page_url(site: DemoSite, host: str, path: str) -> str:
    return f"http://{host}:{site.port}{path}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.canonical: str | None = None
        self.robots: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("a", "area") and attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        elif tag == "link" and attributes.get("rel") == "canonical":
            self.canonical = attributes.get("href")
        elif tag == "meta" and attributes.get("name") == "robots":
            self.robots = attributes.get("content")


def parse(reply: Reply) -> _Links:
    links = _Links()
    links.feed(reply.text)
    return links


def links_to(reply: Reply, target: str, match: str) -> bool:
    """A deliberately crude oracle (host and path only), enough to tell the demo pages apart."""
    wanted = urlsplit(target)
    for href in parse(reply).hrefs:
        url = urlsplit(urljoin(reply.url, href))
        host = url.hostname or ""
        if match == MatchMode.EXACT and (host, url.path.rstrip("/")) == (wanted.hostname, wanted.path.rstrip("/")):
            return True
        if match == MatchMode.PREFIX and host == wanted.hostname and url.path.startswith(wanted.path):
            return True
        if match == MatchMode.DOMAIN and (host == wanted.hostname or host.endswith("." + (wanted.hostname or ""))):
            return True
    return False


def robots_for(site: DemoSite, host: str) -> RobotFileParser:
    parser = RobotFileParser()
    parser.parse(fetch(site, page_url(site, host, "/robots.txt")).text.splitlines())
    return parser


# --- The scenario table -------------------------------------------------------------------------------

REQUIRED = {
    "live", "live_then_anchor_changed", "live_then_nofollow", "sponsored", "ugc_comment", "image_link",
    "footer_link", "several_links", "removed", "removed_then_restored", "live_then_removed", "page_404",
    "page_410", "redirected", "redirect_keeps_link", "noindex_without_link", "noindex_with_link",
    "x_robots_noindex", "not_canonical", "blocked_403", "blocked_challenge", "blocked_429", "server_error",
    "blocked_robots", "slow", "not_html", "too_large", "network_error", "flaky", "target_changed",
    "shared_page_present", "shared_page_absent", "domain_match", "prefix_match",
    # The link inventory's: mentions, paid links on a link network, targets that waste links.
    "mention_unlinked", "mention_linked", "paid_sponsored", "paid_not_sponsored", "mostly_sponsored",
    "target_not_found", "target_redirect_chain", "target_noindex",
}  # fmt: skip


def test_scenario_table_covers_the_brief_with_valid_values() -> None:
    assert REQUIRED <= BY_NAME.keys()
    assert len(BY_NAME) == len(SCENARIOS)
    statuses = {status.value for status in Status}
    misses = {miss.value for miss in Miss}
    for scenario in SCENARIOS:
        assert scenario.host.endswith(".test") and scenario.referring_path.startswith("/")
        target = urlsplit(scenario.target(8123))
        assert target.hostname is not None and target.hostname.endswith("example-shop.test")
        assert target.scheme == "https" or (target.hostname, target.port) == (OUTLET_HOST, 8123)
        assert scenario.match in {mode.value for mode in MatchMode}
        assert scenario.note and "\n" not in scenario.note
        for status, reason in zip(scenario.expect, scenario.expect_reason, strict=True):
            assert status in statuses
            if status == Status.LIVE:
                assert reason is None, scenario.name
            elif status in (Status.MISSING_UNCONFIRMED, Status.LOST):
                assert reason in misses, scenario.name
            else:
                assert Status(status) in INCONCLUSIVE
        # A loss is only ever confirmed by a second conclusive miss.
        assert scenario.expect[0] != Status.LOST
        if scenario.expect[1] == Status.LOST:
            assert scenario.expect[0] == Status.MISSING_UNCONFIRMED, scenario.name


def test_one_page_carries_two_backlinks() -> None:
    present, absent = BY_NAME["shared_page_present"], BY_NAME["shared_page_absent"]
    assert (present.host, present.referring_path) == (absent.host, absent.referring_path)
    assert present.target_url != absent.target_url


FETCHABLE = [s for s in SCENARIOS if s.expect[0] not in (Status.TIMEOUT, Status.NETWORK_ERROR)]


@pytest.mark.parametrize("night", NIGHTS)
@pytest.mark.parametrize("scenario", FETCHABLE, ids=lambda s: s.name)
def test_page_serves_what_the_scenario_expects(site: DemoSite, scenario: Scenario, night: int) -> None:
    site.night = night
    status, reason = scenario.expect[night - 1], scenario.expect_reason[night - 1]
    replies = fetch_following(site, site.url(scenario))
    first, final = replies[0], replies[-1]

    if status == Status.LIVE:
        assert final.status == 200 and links_to(final, scenario.target(site.port), scenario.match)
    elif status in (Status.MISSING_UNCONFIRMED, Status.LOST) and reason == Miss.PAGE_NOT_FOUND:
        assert first.status in (404, 410)
    elif status in (Status.MISSING_UNCONFIRMED, Status.LOST):
        assert final.status == 200 and not links_to(final, scenario.target(site.port), scenario.match)
        page = parse(final)
        if reason == Miss.PAGE_REDIRECTED:
            assert first.status == 301 and len(replies) == 2
        elif reason == Miss.NOINDEX:
            assert page.robots is not None and "noindex" in page.robots
        elif reason == Miss.NOT_CANONICAL:
            assert page.canonical is not None and page.canonical != final.url
        else:
            assert reason == Miss.LINK_REMOVED and len(replies) == 1 and page.canonical == final.url
    elif status == Status.BLOCKED_BOT:
        assert first.status == int(reason or "")
        if first.status == 503:
            assert first.headers["cf-mitigated"] == "challenge" and "Just a moment..." in first.text
    elif status == Status.SERVER_ERROR:
        assert first.status == int(reason or "") and "cf-mitigated" not in first.headers
    elif status == Status.NOT_HTML:
        assert first.status == 200 and first.headers.get_content_type() == reason
    elif status == Status.TOO_LARGE:
        assert first.status == 200 and len(first.body) > TOO_LARGE_BYTES
    else:
        assert status == Status.BLOCKED_ROBOTS and reason == "robots.txt"
        assert not robots_for(site, scenario.host).can_fetch("*", site.url(scenario))


# --- Pages and hosts ----------------------------------------------------------------------------------


def test_pages_look_like_real_pages(site: DemoSite) -> None:
    reply = fetch(site, site.url(BY_NAME["live"]))
    assert reply.headers.get_content_type() == "text/html" and reply.headers.get_content_charset() == "utf-8"
    for landmark in ('<html lang="en">', "<title>", "<header>", "<nav>", "<main>", "<article>", "<aside>", "<footer>"):
        assert landmark in reply.text
    hrefs = parse(reply).hrefs
    assert any(urlsplit(href).hostname not in (None, "www.example-shop.test") for href in hrefs)  # other sites
    assert 'We asked <a href="https://www.example-shop.test/">Example Shop</a>, which sold out' in reply.text


def test_link_attributes_that_the_scenarios_are_about(site: DemoSite) -> None:
    assert 'rel="sponsored"' in fetch(site, site.url(BY_NAME["sponsored"])).text
    ugc = fetch(site, site.url(BY_NAME["ugc_comment"])).text
    assert 'rel="ugc nofollow"' in ugc.split('<section id="comments">')[1]
    assert 'alt="Example Shop logo"' in fetch(site, site.url(BY_NAME["image_link"])).text
    footer = fetch(site, site.url(BY_NAME["footer_link"])).text
    assert "www.example-shop.test" not in footer.split("<footer>")[0]
    assert fetch(site, site.url(BY_NAME["several_links"])).text.count("www.example-shop.test/products/widget") == 3
    assert fetch(site, site.url(BY_NAME["x_robots_noindex"])).headers["X-Robots-Tag"] == "noindex"
    assert parse(fetch(site, site.url(BY_NAME["noindex_with_link"]))).robots == "noindex, follow"
    assert fetch(site, site.url(BY_NAME["blocked_429"])).headers["Retry-After"] == "3600"


def test_any_host_header_is_answered_and_unknown_pages_are_404(site: DemoSite) -> None:
    assert fetch(site, page_url(site, "news.test", "/no-such-page")).status == 404
    assert fetch(site, page_url(site, "nobody.test", "/")).status == 404
    # The route belongs to its host: the same path on another host is not that page.
    assert fetch(site, page_url(site, "blog.test", BY_NAME["live"].referring_path)).status == 404
    assert fetch(site, page_url(site, "NEWS.test", BY_NAME["live"].referring_path)).status == 200


def test_night_switching_changes_the_pages(site: DemoSite) -> None:
    assert site.night == 1
    removed = BY_NAME["live_then_removed"]
    before = fetch(site, site.url(removed)).text
    site.night = 2
    after = fetch(site, site.url(removed)).text
    assert "www.example-shop.test" in before and "www.example-shop.test" not in after
    assert 'rel="nofollow"' in fetch(site, site.url(BY_NAME["live_then_nofollow"])).text
    assert fetch(site, site.url(BY_NAME["flaky"])).status == 200
    site.night = 1
    assert fetch(site, site.url(BY_NAME["flaky"])).status == 500
    with pytest.raises(ValueError, match="night"):
        site.night = 3


def test_the_night_can_be_switched_over_http_but_only_by_post(site: DemoSite) -> None:
    control = page_url(site, "news.test", "/_demo/night/2")
    assert fetch(site, control).status == 404 and site.night == 1
    assert fetch(site, control, method="POST").status == 200 and site.night == 2
    assert fetch(site, page_url(site, "news.test", "/_demo/night/3"), method="POST").status == 400
    assert site.night == 2


def test_robots_txt_is_per_host(site: DemoSite) -> None:
    forum = robots_for(site, ROBOTS_HOST)
    assert not forum.can_fetch("backlinks", page_url(site, ROBOTS_HOST, ROBOTS_DISALLOWED_PREFIX + "anyone"))
    assert forum.can_fetch("backlinks", site.url(BY_NAME["prefix_match"]))
    for host in {s.host for s in SCENARIOS} - {ROBOTS_HOST, UNREACHABLE_HOST}:
        assert robots_for(site, host).can_fetch("backlinks", page_url(site, host, ROBOTS_DISALLOWED_PREFIX + "x"))
    assert fetch(site, page_url(site, ROBOTS_HOST, "/robots.txt")).headers.get_content_type() == "text/plain"


def test_hits_count_requests_per_host_and_path(site: DemoSite) -> None:
    live = BY_NAME["live"]
    fetch(site, site.url(live))
    fetch(site, site.url(live))
    fetch(site, page_url(site, "News.Test", "/robots.txt"))
    fetch(site, page_url(site, "news.test", "/_demo/night/2"), method="POST")  # control, not a hit
    assert site.hits == {(live.host, live.referring_path): 2, ("news.test", "/robots.txt"): 1}
    assert site.hits[(ROBOTS_HOST, BY_NAME["blocked_robots"].referring_path)] == 0


# --- Pages that must go wrong in a precise way --------------------------------------------------------


def test_slow_page_is_slow_but_bounded(site: DemoSite) -> None:
    started = time.monotonic()
    reply = fetch(site, site.url(BY_NAME["slow"]), timeout=SLOW_DELAY)
    elapsed = time.monotonic() - started
    assert reply.status == 200
    # At least the scaled delay, and short of the unscaled one (which would time out first).
    assert SLOW_DELAY * DELAY_SCALE <= elapsed < SLOW_DELAY
    assert DemoSite().slow_delay == SLOW_DELAY
    assert DemoSite(delay_scale=1000).slow_delay == SLOW_DELAY_CAP


def test_stop_does_not_wait_for_a_slow_page() -> None:
    site = DemoSite().start()
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        slow = BY_NAME["slow"]
        started = time.monotonic()
        connection.request("GET", slow.referring_path, headers={"Host": f"{slow.host}:{site.port}"})
        _wait_for(lambda: site.hits[(slow.host, slow.referring_path)] == 1)  # the page is being served
        site.stop()
        assert time.monotonic() - started < site.slow_delay  # stopped before the page could answer
        with pytest.raises(http.client.RemoteDisconnected):  # and it never did
            connection.getresponse()
    finally:
        connection.close()
        site.stop()  # a second stop is harmless


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_large_pages_are_streamed_with_and_without_a_length(site: DemoSite) -> None:
    chunked = fetch(site, site.url(BY_NAME["too_large"]))
    assert "Content-Length" not in chunked.headers and chunked.headers["Transfer-Encoding"] == "chunked"
    declared = fetch(site, site.url(BY_NAME["too_large_declared"]))
    assert int(declared.headers["Content-Length"]) == len(declared.body) > TOO_LARGE_BYTES
    assert chunked.text.rstrip().endswith("</html>") and "www.example-shop.test" in chunked.text[:2000]


def test_a_client_that_hangs_up_mid_stream_is_no_error(site: DemoSite, caplog: pytest.LogCaptureFixture) -> None:
    large = BY_NAME["too_large"]
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    connection.request("GET", large.referring_path, headers={"Host": f"{large.host}:{site.port}"})
    connection.getresponse().read(100_000)
    connection.close()
    assert fetch(site, site.url(BY_NAME["live"])).status == 200  # still serving
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_pdf_is_a_pdf(site: DemoSite) -> None:
    reply = fetch(site, site.url(BY_NAME["not_html"]))
    assert reply.body.startswith(b"%PDF-1.4\n") and reply.body.endswith(b"%%EOF\n")
    assert b"/URI (https://www.example-shop.test/products/widget)" in reply.body


def test_the_unreachable_port_refuses_connections(site: DemoSite) -> None:
    url = site.url(BY_NAME["network_error"])
    assert urlsplit(url).port == site.closed_port != site.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", site.closed_port), timeout=2).close()
    assert scenario_url(BY_NAME["network_error"], site.port).endswith(f":{DISCARD_PORT}/widgets")


# --- The import file ----------------------------------------------------------------------------------


def test_write_backlinks_csv(tmp_path: Path) -> None:
    path = tmp_path / "backlinks.csv"
    assert write_backlinks_csv(path, 8123, closed_port=4444) == len(SCENARIOS)
    with path.open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    assert list(rows[0]) == ["referring_url", "target_url", "match", "tags", "cost", "currency", "notes"]
    assert len(rows) == len(SCENARIOS)
    for row, scenario in zip(rows, SCENARIOS, strict=True):
        port = 4444 if scenario.host == UNREACHABLE_HOST else 8123
        assert row["referring_url"] == f"http://{scenario.host}:{port}{scenario.referring_path}"
        assert (row["target_url"], row["match"]) == (scenario.target(8123), scenario.match)
        assert row["tags"].split(",") == ["demo", *scenario.tags]
        assert (row["cost"] != "") == (scenario.cost is not None) == ("paid" in scenario.tags)
        assert row["notes"].startswith(scenario.name + ": ")
    shared = [row for row in rows if row["referring_url"].endswith(BY_NAME["shared_page_present"].referring_path)]
    assert len(shared) == 2


# --- The served part of the shop (target health) and the addresses ---------------------------------------


def test_outlet_pages_answer_what_target_health_must_find(site: DemoSite) -> None:
    def outlet(url: str) -> str:
        return url.format(port=site.port)

    assert fetch(site, outlet(OUTLET_GONE)).status == 404
    chain = fetch_following(site, outlet(OUTLET_SALE))
    assert [r.status for r in chain] == [301, 302, 200] and chain[-1].url == outlet(OUTLET_SALE_END)
    preview = parse(fetch(site, outlet(OUTLET_PREVIEW)))
    assert preview.robots is not None and "noindex" in preview.robots
    partners = fetch(site, outlet(OUTLET_PARTNERS))
    assert {urlsplit(href).hostname for href in parse(partners).hrefs} >= {"blog.test", "best-picks.test"}
    # Each target-health scenario's live link points at its outlet page, on the demo's port.
    for name in ("target_not_found", "target_redirect_chain", "target_noindex"):
        scenario = BY_NAME[name]
        assert links_to(fetch(site, site.url(scenario)), scenario.target(site.port), scenario.match)


def test_each_site_is_served_on_its_own_address_and_the_network_shares_one(site: DemoSite) -> None:
    rules = dict(rule.split("=") for rule in site.resolve_rules.split(","))
    assert rules["*.test"] == "127.0.0.1"
    assert {rules[host] for host in FARM_HOSTS} == {LINK_FARM_ADDRESS}
    others = [rules[host] for host in ("news.test", "blog.test", ROBOTS_HOST, "directory.test")]
    assert len(set(others)) == len(others) and LINK_FARM_ADDRESS not in others
    for address in {rules["news.test"], LINK_FARM_ADDRESS}:
        connection = http.client.HTTPConnection(address, site.port, timeout=5)
        try:
            connection.request("GET", BY_NAME["live"].referring_path, headers={"Host": f"news.test:{site.port}"})
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    settings = site.crawl_settings()
    assert settings["BACKLINKS_OWN_PAGES"] == OUTLET_PARTNERS.format(port=site.port)
    assert settings["BACKLINKS_BRAND_TERMS"] == "Example Shop"
