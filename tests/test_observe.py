"""Observation of a fetched page, pure: statuses, miss reasons, expectations, several backlinks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.core.items import DueBacklink, LinkRecord, MatchMode, PageFacts
from crawler.core.observe import Fetched, expectation_mismatch, miss_reason, observe_failure, observe_page
from crawler.core.outcome import Miss, Status

AT = datetime(2026, 11, 1, tzinfo=UTC)
PAGE = "https://blog.example.org/post"
SHOP = "https://www.shop.example.com/"
WIDGET = "https://www.shop.example.com/widget"
HTML = {"content-type": ["text/html; charset=utf-8"]}


def fetched(body: str, *, status: int = 200, headers: dict | None = None, final_url: str = PAGE,
            redirects: list[str] | None = None) -> Fetched:
    return Fetched(url=PAGE, final_url=final_url, http_status=status, headers=headers or HTML,
                   redirects=redirects or [], body=body.encode(), text=body)


def backlink(target: str = SHOP, match: MatchMode = MatchMode.EXACT, id: int = 1, **kw: str) -> DueBacklink:
    return DueBacklink(id=id, target_url=target, match=match, **kw)


def page(*body: str, head: str = "") -> str:
    return f"<html lang=en><head><title>Post</title>{head}</head><body><main>{''.join(body)}</main></body></html>"


def one(body: str, bl: DueBacklink | None = None, **kw: object):  # type: ignore[no-untyped-def]
    (obs,) = observe_page([bl or backlink()], fetched(body, **kw), AT)  # type: ignore[arg-type]
    return obs


def test_live_link_with_details() -> None:
    obs = one(page('<p>We love <a href="https://shop.example.com" rel="sponsored noopener">the shop</a> a lot</p>'))
    assert (obs.status, obs.reason) == (Status.LIVE, None)
    (link,) = obs.links
    assert link.anchor == "the shop" and link.rel == ("sponsored", "noopener")
    assert obs.follow is False
    assert obs.page is not None and obs.page.title == "Post" and obs.page.lang == "en"
    assert obs.checked_at == AT and obs.backlink_id == 1 and obs.target_url == SHOP


def test_page_level_nofollow_makes_every_link_nofollow() -> None:
    obs = one(page('<a href="https://www.shop.example.com/">shop</a>', head='<meta name="robots" content="nofollow">'))
    assert obs.status is Status.LIVE and obs.follow is False


def test_x_robots_tag_noindex_is_a_page_fact_not_a_miss() -> None:
    obs = one(page('<a href="/x">self</a><a href="https://www.shop.example.com/">shop</a>'),
              headers={**HTML, "x-robots-tag": ["noindex"]})
    assert obs.status is Status.LIVE and obs.page and obs.page.noindex is True


@pytest.mark.parametrize(
    ("kwargs", "body", "reason"),
    [
        ({}, page("<p>no links here</p>"), Miss.LINK_REMOVED),
        ({"status": 404}, "<h1>Not found</h1>", Miss.PAGE_NOT_FOUND),
        ({"status": 410}, "gone", Miss.PAGE_NOT_FOUND),
        ({"final_url": "https://blog.example.org/", "redirects": [PAGE]}, page("home"), Miss.PAGE_REDIRECTED),
        ({}, page("x", head='<meta name="robots" content="noindex">'), Miss.NOINDEX),
        ({}, page("x", head='<link rel="canonical" href="https://blog.example.org/original">'), Miss.NOT_CANONICAL),
        # A canonical pointing to the page itself, or an http->https hop, is no page-level cause.
        ({}, page("x", head=f'<link rel="canonical" href="{PAGE}">'), Miss.LINK_REMOVED),
        ({"final_url": PAGE, "redirects": ["http://blog.example.org/post"]}, page("x"), Miss.LINK_REMOVED),
    ],
)
def test_miss_reasons(kwargs: dict, body: str, reason: Miss) -> None:
    obs = one(body, **kwargs)
    assert (obs.status, obs.reason) == (Status.MISSING_UNCONFIRMED, reason.value)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (403, HTML, "Forbidden", (Status.BLOCKED_BOT, "403")),
        (429, {**HTML, "retry-after": ["60"]}, "slow down", (Status.BLOCKED_BOT, "429")),
        (503, {**HTML, "cf-mitigated": ["challenge"]}, "<title>Just a moment...</title>", (Status.BLOCKED_BOT, "503")),
        (500, HTML, "oops", (Status.SERVER_ERROR, "500")),
        (200, {"content-type": ["application/pdf"]}, "%PDF-1.4", (Status.NOT_HTML, "application/pdf")),
        (200, {"content-type": ["image/png"]}, "\x89PNG", (Status.NOT_HTML, "image/png")),
    ],
)
def test_inconclusive_pages(status: int, headers: dict, body: str, expected: tuple[Status, str]) -> None:
    obs = one(body, status=status, headers=headers)
    assert (obs.status, obs.reason) == expected
    assert obs.links == [] and obs.page is None


def test_non_text_response_is_not_html() -> None:
    data = Fetched(url=PAGE, final_url=PAGE, http_status=200, headers={}, body=b"\x00\x01", text=None)
    (obs,) = observe_page([backlink()], data, AT)
    assert (obs.status, obs.reason) == (Status.NOT_HTML, "unknown")


def test_several_backlinks_on_one_page_are_judged_separately() -> None:
    body = page('<a href="https://www.shop.example.com/widget?utm_source=x">widget</a>',
                '<nav><a href="https://shop.example.com/blog/">blog</a></nav>')
    results = observe_page(
        [backlink(WIDGET, id=1), backlink(SHOP, id=2), backlink("https://shop.example.com/", MatchMode.DOMAIN, id=3),
         backlink("https://www.shop.example.com/blog", MatchMode.PREFIX, id=4)],
        fetched(body), AT,
    )
    assert [(o.backlink_id, o.status) for o in results] == [
        (1, Status.LIVE), (2, Status.MISSING_UNCONFIRMED), (3, Status.LIVE), (4, Status.LIVE),
    ]
    assert results[1].retargeted_to == WIDGET  # the page links elsewhere on the site
    assert results[2].links[1].position.value == "nav"
    assert len(results[2].links) == 2


def test_tracking_parameters_can_be_significant() -> None:
    body = page('<a href="https://www.shop.example.com/widget?utm_source=x">widget</a>')
    (strict,) = observe_page([backlink(WIDGET)], fetched(body), AT, strip_tracking=False)
    assert strict.status is Status.MISSING_UNCONFIRMED


def test_observe_failure_covers_every_backlink() -> None:
    results = observe_failure([backlink(id=1), backlink(WIDGET, id=2)], PAGE, Status.TIMEOUT, "timeout", AT)
    assert [(o.backlink_id, o.status, o.reason, o.page) for o in results] == [
        (1, Status.TIMEOUT, "timeout", None), (2, Status.TIMEOUT, "timeout", None),
    ]


FACTS = PageFacts(url=PAGE, final_url=PAGE, http_status=200)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (FACTS, Miss.LINK_REMOVED),
        (FACTS.model_copy(update={"noindex": True, "canonical": "https://x.example/"}), Miss.NOINDEX),
        (FACTS.model_copy(update={"redirects": [PAGE], "final_url": "https://other.example/", "noindex": True}),
         Miss.PAGE_REDIRECTED),
        (FACTS.model_copy(update={"canonical": "https://blog.example.org/post/"}), Miss.LINK_REMOVED),
        (FACTS.model_copy(update={"canonical": "https://blog.example.org/post?page=2"}), Miss.NOT_CANONICAL),
    ],
)
def test_miss_reason_precedence(facts: PageFacts, reason: Miss) -> None:
    assert miss_reason(facts) is reason


def _link(anchor: str = "Best Shop", rel: tuple[str, ...] = (), alt: str | None = None) -> LinkRecord:
    return LinkRecord(href=SHOP, url=SHOP, tag="a", anchor=anchor, rel=rel, alt=alt)


@pytest.mark.parametrize(
    ("expected", "links", "facts", "mismatch"),
    [
        ({}, [_link()], FACTS, []),
        ({"expected_anchor": "best  shop"}, [_link()], FACTS, []),
        ({"expected_anchor": "cheap shop"}, [_link()], FACTS, ["anchor"]),
        ({"expected_anchor": "cheap shop"}, [_link(), _link("Cheap Shop")], FACTS, []),
        ({"expected_anchor": "Logo"}, [_link("", alt="Logo")], FACTS, []),
        ({"expected_rel": "follow"}, [_link()], FACTS, []),
        ({"expected_rel": "dofollow"}, [_link(rel=("nofollow",))], FACTS, ["rel"]),
        ({"expected_rel": ""}, [_link()], FACTS.model_copy(update={"nofollow": True}), ["rel"]),
        ({"expected_rel": "sponsored"}, [_link(rel=("sponsored", "noopener"))], FACTS, []),
        ({"expected_rel": "nofollow,sponsored"}, [_link(rel=("sponsored",))], FACTS, ["rel"]),
        ({"expected_anchor": "x", "expected_rel": "ugc"}, [_link()], FACTS, ["anchor", "rel"]),
    ],
)
def test_expectations(expected: dict, links: list[LinkRecord], facts: PageFacts, mismatch: list[str]) -> None:
    assert expectation_mismatch(backlink(**expected), links, facts) == mismatch


def test_mismatch_reaches_the_observation() -> None:
    obs = one(page('<a href="https://www.shop.example.com/" rel="nofollow">shop</a>'),
              backlink(expected_anchor="Example Shop", expected_rel="follow"))
    assert obs.status is Status.LIVE and obs.mismatch == ["anchor", "rel"]


# A 200 with nothing in it (a crashed CMS, an HTTP/1.0 server closing after the headers) says
# nothing about the link: inconclusive, never a miss.
EMPTY = (Status.SERVER_ERROR, "empty_body")


@pytest.mark.parametrize(
    ("body", "headers", "rendered", "expected"),
    [
        ("", HTML, False, EMPTY),
        (" \r\n\t \n", HTML, False, EMPTY),
        ("\u00a0\u3000\n", HTML, False, EMPTY),  # Unicode whitespace only
        ("", {}, False, EMPTY),  # no Content-Type either: not "not_html"
        ("   ", {"content-type": ["text/plain"]}, False, EMPTY),
        ("<html></html>", HTML, False, EMPTY),  # markup, but no element and no text in it
        ("<html><head></head><body>\n</body></html>", HTML, False, EMPTY),
        # What a browser makes of an empty body: the bare document shell.
        ("<html><head></head><body></body></html>", HTML, True, EMPTY),
        # Anything in it is a page, judged as one.
        ("<html><head><title>Post</title></head><body></body></html>", HTML, False, (Status.MISSING_UNCONFIRMED, "link_removed")),
        ("<p>moved on</p>", HTML, False, (Status.MISSING_UNCONFIRMED, "link_removed")),
        ("<html><body><div id=root></div></body></html>", HTML, True, (Status.MISSING_UNCONFIRMED, "link_removed")),
        (page('<a href="https://www.shop.example.com/">shop</a>'), HTML, False, (Status.LIVE, None)),
    ],
)
def test_an_empty_200_is_inconclusive(body: str, headers: dict, rendered: bool, expected: tuple[Status, str | None]) -> None:
    (obs,) = observe_page([backlink()], fetched(body, headers=headers), AT, rendered=rendered)
    assert (obs.status, obs.reason) == expected


def test_an_empty_404_is_still_not_found() -> None:
    assert (one("", status=404).status, one("", status=404).reason) == (Status.MISSING_UNCONFIRMED, "page_not_found")
