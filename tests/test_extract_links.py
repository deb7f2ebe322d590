"""Link extraction: resolution, filtering, anchor, rel, position, context and snippet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ada_url
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from parsel import Selector

from crawler.core.extract.links import (
    page_text,
    rel_tokens,
    resolve_href,
    scan_links,
    visible_text,
)
from crawler.core.items import LinkRecord, MatchMode, Position
from crawler.core.urls import Target

PAGE = "https://blog.example.org/posts/1"


def kept_links(
    sel: Selector, page_url: str, keep: Callable[[str], bool] | None = None, **kwargs: int
) -> list[LinkRecord]:
    """The links one scan keeps."""
    return scan_links(sel, page_url, keep, **kwargs).links


def external_count(sel: Selector, page_url: str) -> int:
    """The external links one scan counts, keeping none."""
    return scan_links(sel, page_url, lambda url: False).external_links


def links(html: str, page_url: str = PAGE, **kwargs: int) -> list[LinkRecord]:
    return kept_links(Selector(text=html), page_url, **kwargs)


def only(html: str, **kwargs: int) -> LinkRecord:
    [link] = links(html, **kwargs)
    return link


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("https://example.com/a", PAGE, "https://example.com/a"),
        ("HTTPS://Example.com/a", PAGE, "https://example.com/a"),
        ("/root", PAGE, "https://blog.example.org/root"),
        ("sibling", PAGE, "https://blog.example.org/posts/sibling"),
        ("sub/page?x=1#f", "https://a.com/dir/", "https://a.com/dir/sub/page?x=1#f"),
        ("page", "https://a.com", "https://a.com/page"),
        ("page", "https://a.com/x?q=/y/z", "https://a.com/page"),
        ("../up", "https://a.com/a/b/c", "https://a.com/a/up"),
        ("./here", "https://a.com/a/b", "https://a.com/a/here"),
        ("/a/./b/../c", "https://a.com/", "https://a.com/a/c"),
        ("?page=2", "https://a.com/list", "https://a.com/list?page=2"),
        ("#top", "https://a.com/list", "https://a.com/list#top"),
        ("", "https://a.com/list", "https://a.com/list"),
        ("//cdn.example.net/x", "https://a.com/", "https://cdn.example.net/x"),
        ("//cdn.example.net/x", "http://a.com/", "http://cdn.example.net/x"),
        ("  https://a.com/x \n", PAGE, "https://a.com/x"),
        ("https://a.com/very/long/\npath", PAGE, "https://a.com/very/long/path"),
        ("https://a.com/x\n    y", PAGE, "https://a.com/x%20%20%20%20y"),  # browsers drop newlines, not spaces
        ("https://a.com/\tx", PAGE, "https://a.com/x"),
        ("\x00\x1f https://a.com/x", PAGE, "https://a.com/x"),
        ("http:\\\\a.com\\x\\y?q=\\z", PAGE, "http://a.com/x/y?q=\\z"),
        ("https://a.com/caf\u00e9 au lait", PAGE, "https://a.com/caf%C3%A9%20au%20lait"),
        # the WHATWG URL parser's forms, as Chromium resolves them
        ("https:x.com/p", "http://a.com/", "https://x.com/p"),  # another scheme, no "//"
        ("http:x.com/p", "http://a.com/dir/", "http://a.com/dir/x.com/p"),  # the same scheme: relative
        ("///example.org/path", "http://a.com/", "http://example.org/path"),
        ("https:///path", PAGE, "https://path/"),
        ("https://user@example.com/", PAGE, "https://user@example.com/"),
        ("https://[::1]:8080/x", PAGE, "https://[::1]:8080/x"),
    ],
)
def test_resolve_href(href: str, base: str, expected: str) -> None:
    assert resolve_href(href, base) == expected


@pytest.mark.parametrize(
    "href",
    [
        "javascript:void(0)",
        " JavaScript:alert(1)",
        "java\nscript:alert(1)",
        "mailto:someone@example.com",
        "tel:+44123",
        "data:text/html,hi",
        "ftp://example.com/file",
        "sms:123",
        "about:blank",
        "http://",
        "http://[broken",
        "https://[::1/x",
    ],
)
def test_resolve_href_skips_non_web_and_unparseable(href: str) -> None:
    assert resolve_href(href, PAGE) is None


def test_links_in_document_order_with_base_href() -> None:
    html = """<html><head><base href="/docs/"><base href="https://ignored.example/"></head><body>
    <a href="a">A</a><map><area href="b" alt="B"></map><a href="https://x.com/">X</a>
    <a>no href</a><a href="mailto:x@y">mail</a></body></html>"""
    found = links(html)
    assert [(link.tag, link.url) for link in found] == [
        ("a", "https://blog.example.org/docs/a"),
        ("area", "https://blog.example.org/docs/b"),
        ("a", "https://x.com/"),
    ]


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://cdn.example.net/assets/", "https://cdn.example.net/assets/p"),
        ("//cdn.example.net/assets/", "https://cdn.example.net/assets/p"),
        ("../", "https://blog.example.org/p"),
        ("javascript:void(0)", "https://blog.example.org/posts/p"),  # ignored, as browsers do
        ("", "https://blog.example.org/posts/p"),
    ],
)
def test_base_href_resolution(base: str, expected: str) -> None:
    html = f'<head><base href="{base}"></head><body><a href="p">p</a></body>'
    assert only(html).url == expected


def test_keep_sees_resolved_urls_and_filters_before_extraction() -> None:
    seen: list[str] = []

    def keep(url: str) -> bool:
        seen.append(url)
        return url.endswith("/yes")

    html = '<a href="/no">n</a><a href="//t.com/yes">y</a><a href="javascript:x">j</a>'
    found = kept_links(Selector(text=html), PAGE, keep)
    assert seen == ["https://blog.example.org/no", "https://t.com/yes"]
    assert [link.url for link in found] == ["https://t.com/yes"]


def test_target_matches_as_keep() -> None:
    html = """<a href="https://www.example.com/page/?utm_source=x">1</a>
    <a href="https://example.com/page2">2</a><a href="//example.com/page#c">3</a>"""
    target = Target("https://example.com/page", MatchMode.EXACT)
    found = kept_links(Selector(text=html), PAGE, target.matches)
    assert [link.anchor for link in found] == ["1", "3"]


@pytest.mark.parametrize(
    ("html", "anchor", "alt"),
    [
        ('<a href="/x">  Hello\n   <b>bold</b>\tworld </a>', "Hello bold world", None),
        ('<a href="/x">two<br>lines</a>', "two lines", None),
        ('<a href="/x"><div>block</div><div>words</div></a>', "block words", None),
        ('<a href="/x">text<script>var x = 1;</script><style>.a{}</style> more</a>', "text more", None),
        ('<a href="/x">a<!-- hidden -->b</a>', "ab", None),
        ('<a href="/x">caf&eacute;&nbsp;au&#160;lait</a>', "caf\u00e9 au lait", None),
        ('<a href="/x"><img src="l.png" alt=" Our   logo "></a>', "", "Our logo"),
        ('<a href="/x"><img src="pixel.gif"><img alt="Second"></a>', "", "Second"),
        ('<a href="/x"><img src="l.png" alt=""></a>', "", ""),
        ('<a href="/x"><img src="l.png"></a>', "", None),
        ('<a href="/x">Shop <img alt="logo"></a>', "Shop", "logo"),
        ('<map><area href="/x" alt=" Map  area "></map>', "", "Map area"),
        ("<map><area href='/x'></map>", "", None),
    ],
)
def test_anchor_and_alt(html: str, anchor: str, alt: str | None) -> None:
    link = only(html)
    assert (link.anchor, link.alt) == (anchor, alt)


@pytest.mark.parametrize(
    ("attrs", "rel", "title"),
    [
        ("", (), None),
        ('rel="nofollow"', ("nofollow",), None),
        ('rel="NoFollow  noopener\nUGC nofollow"', ("nofollow", "noopener", "ugc"), None),
        ('rel="  "', (), None),
        ('rel="sponsored" title="  A   title "', ("sponsored",), "A title"),
        ('title=""', (), ""),
    ],
)
def test_rel_and_title(attrs: str, rel: tuple[str, ...], title: str | None) -> None:
    link = only(f'<a href="/x" {attrs}>x</a>')
    assert (link.rel, link.title) == (rel, title)


@pytest.mark.parametrize(
    ("html", "position"),
    [
        ("<p><a href='/x'>x</a></p>", Position.MAIN),
        ("<nav><ul><li><a href='/x'>x</a></li></ul></nav>", Position.NAV),
        ("<header><a href='/x'>x</a></header>", Position.HEADER),
        ("<footer><p><a href='/x'>x</a></p></footer>", Position.FOOTER),
        ("<aside><a href='/x'>x</a></aside>", Position.ASIDE),
        ("<footer><nav><a href='/x'>x</a></nav></footer>", Position.NAV),  # innermost wins
        ("<nav><footer><a href='/x'>x</a></footer></nav>", Position.NAV),  # footer scoped to the nav
        ("<div role='navigation'><a href='/x'>x</a></div>", Position.NAV),
        ("<div role='banner'><a href='/x'>x</a></div>", Position.HEADER),
        ("<div role='contentinfo'><a href='/x'>x</a></div>", Position.FOOTER),
        ("<div role='Complementary'><a href='/x'>x</a></div>", Position.ASIDE),
        ("<div role='main'><a href='/x'>x</a></div>", Position.MAIN),
        ("<div role='presentation navigation'><a href='/x'>x</a></div>", Position.MAIN),
        ("<main><article><header><a href='/x'>x</a></header></article></main>", Position.MAIN),
        ("<article><footer><a href='/x'>x</a></footer></article>", Position.MAIN),
        ("<section><header><a href='/x'>x</a></header></section>", Position.MAIN),
        ("<aside><header><a href='/x'>x</a></header></aside>", Position.ASIDE),
        ("<article><div role='contentinfo'><a href='/x'>x</a></div></article>", Position.FOOTER),
        ("<div><header><div><a href='/x'>x</a></div></header></div>", Position.HEADER),
    ],
)
def test_position(html: str, position: Position) -> None:
    assert only(html).position is position


@pytest.mark.parametrize(
    ("html", "left", "right"),
    [
        ("<p>before <a href='/x'>x</a> after</p>", "before", "after"),
        ("<p>before<a href='/x'>x</a>after</p>", "before", "after"),
        ("<p>one</p><p>two <a href='/x'>x</a></p><p>three</p>", "one two", "three"),
        ("<div>a<script>var s = 'no';</script>b <a href='/x'>x</a> c<style>p{}</style>d</div>", "ab", "cd"),
        ("<p>a<!-- note -->b <a href='/x'>x</a></p>", "ab", ""),
        ("<p><a href='/x'>x</a></p>", "", ""),
        ("<ul><li>first</li><li><a href='/x'>x</a></li><li>third</li></ul>", "first", "third"),
        ("<p>in <b>bold <i>nested <a href='/x'>x</a> end</i> of</b> para</p>", "in bold nested", "end of para"),
        ("<noscript>hidden <a href='/x'>x</a> text</noscript>", "", ""),
    ],
)
def test_context(html: str, left: str, right: str) -> None:
    link = only(f"<html><head><title>Title</title></head><body>{html}</body></html>")
    assert (link.left, link.right) == (left, right)


def test_context_is_bounded_and_cut_at_words() -> None:
    words = " ".join(f"word{i}" for i in range(100))
    link = only(f"<p>{words} <a href='/x'>x</a> {words}</p>", context_chars=30)
    assert link.left == "word96 word97 word98 word99"
    assert link.right == "word0 word1 word2 word3 word4"
    assert len(link.left) <= 30 and len(link.right) <= 30


def test_context_of_one_long_word_is_cut_mid_word() -> None:
    link = only(f"<p>{'x' * 500}<a href='/x'>x</a>{'y' * 500}</p>", context_chars=10)
    assert (link.left, link.right) == ("x" * 10, "y" * 10)


def test_snippet_is_bounded_outer_html() -> None:
    link = only('<p>a <a href="/x" class="c">the <b>anchor</b></a> tail</p>')
    assert link.snippet == '<a href="/x" class="c">the <b>anchor</b></a>'
    long = only(f'<a href="/x">{"z" * 1000}</a>', snippet_chars=50)
    assert long.snippet == '<a href="/x">' + "z" * 37
    assert len(long.snippet) == 50


@pytest.mark.parametrize(
    ("html", "page_url", "expected"),
    [
        ("<a href='/a'>a</a><a href='b'>b</a><a href='#c'>c</a>", PAGE, 0),
        ("<a href='https://blog.example.org/x'>a</a><a href='http://www.blog.example.org/'>b</a>", PAGE, 0),
        ("<a href='https://BLOG.example.org:443/x'>a</a>", PAGE, 0),
        ("<a href='https://other.com/'>a</a><a href='//cdn.net/x'>b</a><map><area href='https://z.io'></map>", PAGE, 3),
        ("<a href='https://example.org/'>parent domain</a><a href='https://blog.example.org.evil.com/'>x</a>", PAGE, 2),
        ("<a href='mailto:a@other.com'>a</a><a href='javascript:go()'>b</a>", PAGE, 0),
        ("<head><base href='https://cdn.example.net/'></head><a href='rel'>a</a>", PAGE, 1),
        ("<a href='https://www.example.com/'>a</a>", "https://example.com/", 0),
    ],
)
def test_external_count(html: str, page_url: str, expected: int) -> None:
    assert external_count(Selector(text=html), page_url) == expected


def test_scan_counts_all_links_but_keeps_some() -> None:
    html = "<a href='https://t.com/1'>1</a><a href='https://t.com/2'>2</a><a href='/in'>in</a>"
    scan = scan_links(Selector(text=html), PAGE, lambda url: url.endswith("/2"))
    assert scan.external_links == 2
    assert [link.anchor for link in scan.links] == ["2"]


def test_selector_over_part_of_a_page() -> None:
    sel = Selector(text="<nav><a href='/n'>n</a></nav><article><p>x <a href='/a'>a</a> y</p></article>")
    [article] = sel.css("article")
    [link] = kept_links(article, PAGE)
    assert (link.url, link.left, link.right) == ("https://blog.example.org/a", "n x", "y")
    assert kept_links(sel.css("a::attr(href)")[0], PAGE) == []


def test_many_links_with_one_match_are_cheap_to_filter() -> None:
    items = "".join(f"<li><a href='/p/{i}'>Link {i}</a></li>" for i in range(5000))
    sel = Selector(text=f"<ul>{items}</ul><p>see <a href='https://t.com/x'>t</a> now</p>")
    target = Target("https://t.com/x", MatchMode.EXACT)
    scan = scan_links(sel, PAGE, target.matches)
    [link] = scan.links
    assert link.left.endswith("Link 4998 Link 4999 see") and len(link.left) <= 100
    assert link.right == "now"
    assert scan.external_links == 1


HTML_PARTS = st.sampled_from(
    [
        "<a href='", "<a href=\"", "<area href=", "'>", "\">", ">", "</a>", "<base href='", "<img alt='",
        "<nav>", "</nav>", "<footer role=contentinfo>", "<header>", "<article>", "<script>", "</script>",
        "<style>", "<!--", "-->", "<p>", "<div>", "</div>", "<br>", "<template>", "<noscript>", " rel='",
        "nofollow UGC", "javascript:", "mailto:", "//", "http://", "https://", "[", "]", "::1", "\\", "..",
        "/./", "#", "?", "&amp;", "&", "\u00fc", "\x00", "\n", " ", "text", "example.com", "%",
        "<svg><title>", "<table><td>", "<html>", "<body>", "<![CDATA[", "<?pi ?>",
    ]
)
HREFS = st.lists(
    st.sampled_from(
        [
            "javascript:", "mailto:", "//", "http://", "https://", "[", "]", "::1", "\\", "..", "/./", "#", "?",
            "&amp;", "\u00fc", "\n", " ", "%", ":8080", "@", "/", "text", "example.com", "a.com", "www.",
            "blog.example.org", "WWW.A.COM.",
        ]
    ),
    max_size=8,
).map("".join)
# Links in well-formed tags, so that most draws have some, on the page's host and elsewhere.
LINKS = st.lists(
    st.tuples(st.sampled_from(["<a href='", "<area href='", "<svg><a xlink:href='", "<base href='"]), HREFS),
    max_size=10,
).map(lambda tags: "".join(f"{tag}{href}'>x</a>" for tag, href in tags))
# No lone surrogates: a decoded response never has them, and parsel cannot even build a selector.
HTML_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.lists(HTML_PARTS, max_size=40).map("".join),
    LINKS,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(HTML_TEXT, st.sampled_from([PAGE, "https://a.com", "http://[::1]/x", "", "not a url"]))
def test_arbitrary_html_never_raises(html: str, page_url: str) -> None:
    sel = Selector(text=html)
    links = kept_links(sel, page_url, context_chars=20, snippet_chars=30)
    for link in links:
        assert link.url.lower().startswith(("http://", "https://"))
        assert len(link.left) <= 20 and len(link.right) <= 20 and len(link.snippet) <= 30
    # The count is decided on a quick resolution of every href, which may also count an href a
    # browser refuses: at least the links on another host, at most every <a>/<area> with an href.
    elsewhere = [link for link in links if _host(link.url) != _host(page_url)]
    anchors = sel.root.iter("a", "area") if isinstance(sel.root, etree._Element) else ()  # text like "[]" is JSON to parsel
    hrefs = sum(e.get("href") is not None or e.get("xlink:href") is not None for e in anchors)
    assert len(elsewhere) <= external_count(sel, page_url) <= hrefs


def _host(url: str) -> str | None:
    """The host of ``url`` as the URL Standard reads it, ``www.`` and a final dot aside."""
    try:
        host = ada_url.URL(url).hostname
    except ValueError:
        return None
    return host.lower().removesuffix(".").removeprefix("www.")


# --- page_text: visible_text of a whole page, in C ----------------------------------------------------

_FIXTURE_PAGES = sorted((Path(__file__).parent / "fixtures" / "pages").glob("*.html"))


@pytest.mark.parametrize(
    "html",
    [
        "<p>a&nbsp;b</p><p>c\x0bd\u3000e</p>x<!-- c --><script>zz</script>y<template>no</template>q",
        "<div>one<div>two</div>three</div><span>fo</span><b>ur</b><br>five<?pi x?><style>p{}</style>",
        "<noscript><a href='/x'>hidden</a></noscript>  \n\t spaced   out  ",
        "<table><tr><td>a</td><td>b</td></tr></table><ul><li>c<li>d</ul>",
        "<body></body>",
        'a<span hidden>h</span>b<i style="COLOR:red;Display : None">n</i>c<svg><title>t</title></svg>'
        "<select><option>o1<option>o2</select><datalist><option>d</datalist>",
        "<div>" * 3000 + "deep" + "</div>" * 3000,
        *(path.read_bytes().decode("utf-8", "replace") for path in _FIXTURE_PAGES),
    ],
)
def test_page_text_equals_visible_text(html: str) -> None:
    document = Selector(text=html).root
    body = document.find("body")
    for element in (document, body) if body is not None else (document,):
        assert page_text(element) == visible_text(element)


@given(st.lists(st.sampled_from(["a", " ", "\xa0", "\n", "<p>", "</p>", "<b>", "</b>", "<script>s</script>",
                                 "<!--c-->", "<div>", "</div>", "&amp;", "\u2003", "é"]), max_size=40))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_page_text_equals_visible_text_on_random_markup(pieces: list[str]) -> None:
    document = Selector(text="<html><body>" + "".join(pieces) + "</body></html>").root
    assert page_text(document) == visible_text(document)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("https:///path", "https://path/"),
        ("https:x.example/p", "https://x.example/p"),  # another scheme than the page's: absolute
        ("http:x.example/p", "http://page.example/x.example/p"),  # the page's own: relative
        ("///x.example/p", "http://x.example/p"),
        ("https://user@x.example/p", "https://user@x.example/p"),
        ("https://x.example/q?a=\x01b", "https://x.example/q?a=%01b"),
    ],
)
def test_links_a_browser_follows_are_extracted(href: str, expected: str) -> None:
    html = f"<html><body><a href='{href}'>x</a></body></html>"
    assert [link.url for link in kept_links(Selector(text=html), "http://page.example/")] == [expected]


@pytest.mark.parametrize(
    ("rel", "tokens"),
    [
        (None, ()),
        ("", ()),
        ("NoFollow  Sponsored", ("nofollow", "sponsored")),
        ("\tugc\nnofollow\x0cugc\r", ("ugc", "nofollow")),
        # Only ASCII whitespace separates tokens, and only ASCII letters are lower-cased (as browsers do).
        ("nofollow\xa0sponsored", ("nofollow\xa0sponsored",)),
        ("nofollow\u2003ugc", ("nofollow\u2003ugc",)),
        ("NOFOLLOW\u0130", ("nofollow\u0130",)),
    ],
)
def test_rel_tokens_as_a_browser_reads_them(rel: str | None, tokens: tuple[str, ...]) -> None:
    assert rel_tokens(rel) == tokens
