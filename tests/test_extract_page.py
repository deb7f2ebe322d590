"""Page facts, effective follow, HTML and challenge detection, and the golden fixture pages."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parsel import Selector

from tests.support import golden
from crawler.core.extract.html import parse_html
from crawler.core.extract.links import scan_links
from crawler.core.extract.page import (
    content_hash,
    effective_follow,
    extract_page,
    is_html,
    looks_like_challenge,
    media_type,
    x_robots_directives,
)
from crawler.core.items import LinkRecord, PageFacts

URL = "https://blog.example.org/posts/1"


def facts(html: str, headers: Mapping[str, Sequence[str]] | None = None, **kwargs: object) -> PageFacts:
    sel = Selector(text=html)
    # As observe_page does: the count comes from the one scan of the page's links.
    kwargs.setdefault("external_links", scan_links(sel, URL).external_links)
    return extract_page(
        sel,
        url=URL,
        final_url=URL,
        http_status=200,
        headers=headers or {},
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("name", golden.case_names())
def test_golden_page(name: str) -> None:
    """On failure, re-record with ``python -m tests.support.golden NAME`` and review the JSON diff."""
    assert golden.run(name) == golden.load(name)["expected"]


def test_golden_cases_are_all_there() -> None:
    assert len(golden.case_names()) == len(list(golden.PAGES.glob("*.html")))


def test_passes_request_facts_through() -> None:
    page = extract_page(
        Selector(text="<p>x</p>"),
        url="http://a.com/old",
        final_url="https://a.com/new",
        http_status=200,
        headers={"content-type": ["Text/HTML; charset=ISO-8859-1"]},
        redirects=["http://a.com/old", "https://a.com/old"],
        external_links=0,
    )
    assert (page.url, page.final_url, page.http_status) == ("http://a.com/old", "https://a.com/new", 200)
    assert page.redirects == ["http://a.com/old", "https://a.com/old"]
    assert page.content_type == "text/html"


@pytest.mark.parametrize(
    ("head", "headers", "expected"),
    [
        ('<link rel="canonical" href="https://a.com/c">', {}, "https://a.com/c"),
        ('<link rel="Canonical" href="/c?x=1">', {}, "https://blog.example.org/c?x=1"),
        ('<link rel="canonical" href=" other ">', {}, "https://blog.example.org/posts/other"),
        ('<base href="https://cdn.net/d/"><link rel="canonical" href="c">', {}, "https://cdn.net/d/c"),
        ('<link rel="alternate canonical" href="/c">', {}, "https://blog.example.org/c"),
        ('<link rel="canonical" href="/first"><link rel="canonical" href="/second">', {}, "https://blog.example.org/first"),
        ('<link rel="alternate" href="/fr">', {}, None),
        ('<link rel="canonical">', {}, None),
        ('<link rel="canonical" href="javascript:x">', {}, None),
        ("", {"link": ['<https://a.com/h>; rel="canonical"']}, "https://a.com/h"),
        ("", {"link": ["</h>; rel=canonical"]}, "https://blog.example.org/h"),
        ("", {"link": ['</s.css>; rel=preload; as=style, </h?a=1,2>; rel="alternate canonical"']}, "https://blog.example.org/h?a=1,2"),
        ("", {"link": ["</p.css>; rel=preload", '<https://a.com/h>; REL="Canonical"']}, "https://a.com/h"),
        ("", {"link": ['<https://a.com/n>; rel="next"']}, None),
        ('<link rel="canonical" href="/markup">', {"link": ['</header>; rel="canonical"']}, "https://blog.example.org/markup"),
    ],
)
def test_canonical(head: str, headers: dict[str, list[str]], expected: str | None) -> None:
    assert facts(f"<html><head>{head}</head><body></body></html>", headers).canonical == expected


@pytest.mark.parametrize(
    ("metas", "x_robots", "noindex", "nofollow"),
    [
        ("", [], False, False),
        ('<meta name="robots" content="noindex">', [], True, False),
        ('<meta name="robots" content="nofollow">', [], False, True),
        ('<meta name="ROBOTS" content="NoIndex, NoFollow">', [], True, True),
        ('<meta name="robots" content="noindex nofollow">', [], True, True),
        ('<meta name="robots" content="none">', [], True, True),
        ('<meta name="robots" content="index, follow">', [], False, False),
        ('<meta name="robots" content="all">', [], False, False),
        ('<meta name="googlebot" content="noindex">', [], True, False),
        ('<meta name=" GoogleBot " content="nofollow">', [], False, True),
        ('<meta name="bingbot" content="noindex, nofollow">', [], False, False),
        ('<meta name="googlebot-news" content="noindex">', [], False, False),
        ('<meta name="description" content="noindex">', [], False, False),
        ('<meta property="robots" content="noindex">', [], False, False),
        ('<meta name="robots">', [], False, False),
        ('<meta name="robots" content="noindex"><meta name="googlebot" content="nofollow">', [], True, True),
        ("", ["noindex"], True, False),
        ("", ["noindex, nofollow"], True, True),
        ("", ["none"], True, True),
        ("", ["googlebot: noindex"], True, False),
        ("", ["GoogleBot: NoFollow"], False, True),
        ("", ["bingbot: noindex"], False, False),
        ("", ["bingbot: noindex, nofollow"], False, False),
        ("", ["bingbot: noindex", "nofollow"], False, True),
        ("", ["bingbot: noindex, googlebot: nofollow"], False, True),
        ("", ["max-snippet: 20, noindex"], True, False),
        ("", ["unavailable_after: 25 Jun 2030 15:00:00 PST"], False, False),
        ("", ["max-image-preview: large"], False, False),
        ('<meta name="robots" content="noindex">', ["nofollow"], True, True),
    ],
)
def test_robots_directives(metas: str, x_robots: list[str], noindex: bool, nofollow: bool) -> None:
    page = facts(f"<html><head>{metas}</head><body>x</body></html>", {"x-robots-tag": x_robots})
    assert (page.noindex, page.nofollow) == (noindex, nofollow)


@pytest.mark.parametrize(
    ("value", "directives"),
    [
        ("noindex", ["noindex"]),
        ("googlebot: noindex, nofollow", ["noindex", "nofollow"]),
        ("otherbot: noindex, googlebot: nofollow", ["nofollow"]),
        ("max-snippet: 20", ["max-snippet:", "20"]),
        ("", []),
    ],
)
def test_x_robots_directives(value: str, directives: list[str]) -> None:
    assert x_robots_directives(value) == directives


@pytest.mark.parametrize(
    ("html", "title", "lang"),
    [
        ("<html lang='en'><head><title> A\n  title </title></head></html>", "A title", "en"),
        ("<html lang=' pt-BR '><title>t</title></html>", "t", "pt-BR"),
        ("<html lang=''><head><title>   </title></head></html>", None, None),
        ("<html><body><svg><title>icon</title></svg></body></html>", None, None),
        ("<html><body><svg><title>icon</title></svg><title>late</title></body></html>", "late", None),
        ("<title>Fish &amp; chips</title>", "Fish & chips", None),
        ("<title>first</title><title>second</title>", "first", None),
    ],
)
def test_title_and_lang(html: str, title: str | None, lang: str | None) -> None:
    page = facts(html)
    assert (page.title, page.lang) == (title, lang)


def test_external_links_counted_or_taken_from_the_caller() -> None:
    html = "<a href='https://other.com/'>o</a><a href='/in'>i</a><a href='https://www.blog.example.org/'>w</a>"
    assert facts(html).external_links == 1
    assert facts(html, external_links=7).external_links == 7


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("<p>Hello world</p>", "<p>Hello   world</p>\n", True),
        ("<p>Hello world</p><script>var nonce='a1'</script>", "<p>Hello world</p><script>var nonce='b2'</script>", True),
        ("<p>Hello world</p><!-- built 10:01 -->", "<p>Hello world</p><!-- built 10:02 -->", True),
        ("<body><p>Hello</p></body>", "<head><title>other</title></head><body><p>Hello</p></body>", True),
        ("<p>Hello world</p>", "<p>Hello there</p>", False),
        ("<p>Hello <a href='/a'>world</a></p>", "<p>Hello world</p>", True),  # links are compared elsewhere
    ],
)
def test_content_hash_follows_visible_text(first: str, second: str, same: bool) -> None:
    assert (facts(first).content_hash == facts(second).content_hash) is same


def test_content_hash_of_a_page_without_text_is_the_body_hash() -> None:
    body = b"<html><body><script>app()</script></body></html>"
    page = facts(body.decode(), body=body)
    assert page.content_hash == hashlib.sha256(body).hexdigest()
    assert content_hash(Selector(text="<p>a b</p>").root, b"ignored") == hashlib.sha256(b"a b").hexdigest()


def _link(rel: tuple[str, ...] = ()) -> LinkRecord:
    return LinkRecord(href="/x", url="https://a.com/x", tag="a", rel=rel)


@pytest.mark.parametrize(
    ("rel", "page_nofollow", "follow"),
    [
        ((), False, True),
        (("noopener", "noreferrer"), False, True),
        (("nofollow",), False, False),
        (("sponsored",), False, False),
        (("ugc",), False, False),
        (("noopener", "sponsored"), False, False),
        ((), True, False),
        (("external",), True, False),
    ],
)
def test_effective_follow(rel: tuple[str, ...], page_nofollow: bool, follow: bool) -> None:
    page = PageFacts(url=URL, final_url=URL, http_status=200, nofollow=page_nofollow)
    assert effective_follow(_link(rel), page) is follow


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html", b"", True),
        ("text/html; charset=utf-8", b"<p>hi", True),  # the header decides when present...
        ("text/html; charset=utf-8", b"%PDF-1.4", False),  # ...unless the body is binary data
        ("text/html", b"\x89PNG\r\n\x1a\n", False),
        ("text/html", bytes(range(256)) * 4, False),
        ("text/html", b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00", True),  # UTF-16 HTML, NULs and all
        ("text/html", b"<html>\x00 one stray NUL in a real page</html>", True),
        ("TEXT/HTML ; charset=x", b"", True),
        ("application/xhtml+xml", b"<?xml version='1.0'?><html/>", True),
        ("application/pdf", b"<html>", False),
        ("application/json", b"{}", False),
        ("image/png", b"\x89PNG\r\n", False),
        ("text/plain", b"<html><body>x</body></html>", False),
        ("application/octet-stream", b"<html>", False),
        (None, b"<!DOCTYPE html><html>", True),
        (None, b"\n\n  <!doctype HTML>\n<html>", True),
        ("", b"<html lang=en>", True),
        ("  ", b"<HTML>", True),
        (None, b"\xef\xbb\xbf<!DOCTYPE html>", True),
        (None, "<html>".encode("utf-16"), True),
        (None, b"<head><title>x</title>", True),
        (None, b"<p>hi</p>", True),
        (None, b"<!-- comment --><div>", True),
        (None, b"<body>", True),
        (None, b"%PDF-1.7\n<html>", False),
        (None, b"\x89PNG\r\n\x1a\n", False),
        (None, b"GIF89a", False),
        (None, b'{"html": "<html>"}', False),
        (None, b"<?xml version='1.0'?><rss>", False),
        (None, b"<htmlx>", False),
        (None, b"<pre>", False),
        (None, b"", False),
        (None, b"plain text", False),
    ],
)
def test_is_html(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected


CLOUDFLARE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<script>window._cf_chl_opt={cvId:'3'};</script></body></html>"
)
CLOUDFLARE_BLOCK = "<html><head><title>Attention Required! | Cloudflare</title></head><body>blocked</body></html>"
DATADOME = "<html><body><script src='https://ct.captcha-delivery.com/c.js'></script></body></html>"
PERIMETERX = "<html><head><title>Access to this page has been denied</title></head><body><div id='px-captcha'></div></body></html>"
AKAMAI = (
    "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>You don't have permission.<P>"
    "Reference&#32;&#35;18&#46;1\n<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net</BODY></HTML>"
)
RECAPTCHA = "<html><body><form><div class='g-recaptcha' data-sitekey='x'></div></form></body></html>"
BLOG_ABOUT_CLOUDFLARE = (
    "<html><head><title>Why Cloudflare shows 'Just a moment...'</title></head><body>"
    "<p>The page sets window._cf_chl_opt and loads /cdn-cgi/challenge-platform/h/g/.</p></body></html>"
)
NORMAL_CLOUDFLARE_PAGE = (
    "<html><head><title>My blog</title></head><body><p>Post</p>"
    "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script></body></html>"
)


@pytest.mark.parametrize(
    ("status", "headers", "markup", "expected"),
    [
        (403, {}, CLOUDFLARE, True),
        (503, {}, CLOUDFLARE, True),
        (200, {}, CLOUDFLARE, True),  # challenge title and vendor marker together
        (403, {"cf-mitigated": ["challenge"]}, "", True),
        (200, {"cf-mitigated": ["challenge"]}, "<p>anything</p>", True),
        (403, {}, CLOUDFLARE_BLOCK, True),
        (403, {"x-datadome": ["protected"]}, "<p>x</p>", True),
        (403, {}, DATADOME, True),
        (429, {}, DATADOME, True),
        (403, {}, PERIMETERX, True),
        (403, {}, AKAMAI, True),
        (429, {}, RECAPTCHA, True),
        (200, {}, RECAPTCHA, False),  # a contact form with a captcha is a real page
        (200, {}, DATADOME, False),
        (200, {}, BLOG_ABOUT_CLOUDFLARE, False),
        (200, {}, NORMAL_CLOUDFLARE_PAGE, False),
        (200, {"x-datadome": ["protected"]}, "<p>x</p>", False),
        (403, {}, "<html><head><title>Forbidden</title></head><body>nginx</body></html>", False),
        (503, {}, "<html><body>Down for maintenance</body></html>", False),
        (404, {}, CLOUDFLARE_BLOCK, False),
        (200, {}, "<html><head><title>Home</title></head><body>hello</body></html>", False),
        (200, {}, "", False),
    ],
)
def test_looks_like_challenge(status: int, headers: dict[str, list[str]], markup: str, expected: bool) -> None:
    assert looks_like_challenge(status, headers, markup) is expected


HTML_PARTS = st.sampled_from(
    [
        "<html lang='", "<head>", "<title>", "</title>", "<base href='", "<link rel='canonical' href='",
        "<meta name='robots' content='", "<meta name=googlebot content=", "noindex", "none, nofollow", "'>",
        "\">", ">", "<body>", "<a href='", "</a>", "<svg>", "<script>", "</script>", "<p>", "<!--", "-->",
        "javascript:", "//", "https://", "[", "::1", "/../", "#", "\u00e9", "\x00", "\n", " ", "text",
    ]
)
HTML_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.lists(HTML_PARTS, max_size=40).map("".join),
)
HEADER_VALUES = st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["<", ">", ";", "rel=canonical", ":"])), max_size=3)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(HTML_TEXT, HEADER_VALUES, HEADER_VALUES, st.integers(100, 599), st.binary(max_size=64))
def test_arbitrary_pages_never_raise(
    html: str, link: list[str], robots: list[str], status: int, body: bytes
) -> None:
    sel = Selector(text=html)
    headers = {"link": link, "x-robots-tag": robots, "content-type": robots}
    page = extract_page(
        sel, url=URL, final_url=URL, http_status=status, headers=headers, body=body,
        external_links=scan_links(sel, URL).external_links,
    )
    assert page.canonical is None or page.canonical.lower().startswith(("http://", "https://"))
    # No drawn header is a vendor's, and no drawn markup holds a challenge title, vendor marker or
    # captcha widget: whatever the status, a challenge needs one of them.
    assert looks_like_challenge(status, headers, html) is False
    # No drawn label names an HTML type, so only a page without a usable label is sniffed.
    content_type = robots[0] if robots else None
    sniffed = media_type(content_type) is None
    assert is_html(content_type, body) is (is_html(None, body) if sniffed else False)


def test_template_content_is_not_the_pages() -> None:
    """A browser keeps <template> content out of the document: its meta robots, canonical and
    links are not the page's (lxml alone keeps them as ordinary children)."""
    html = (
        "<html><head><template><meta name='robots' content='noindex'>"
        "<link rel='canonical' href='https://other.example/'></template></head>"
        "<body><template><a href='https://t.example/'>t</a></template></body></html>"
    )
    sel = parse_html(html)
    facts = extract_page(sel, url=URL, final_url=URL, http_status=200, headers={}, external_links=scan_links(sel, URL).external_links)
    assert (facts.noindex, facts.canonical, facts.external_links) == (False, None, 0)
