"""Refreshes: only an immediate one (0 s), by meta tag or Refresh header, is a redirect."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.core.extract.refresh import Refresh, meta_refresh, parse_refresh, refresh_target
from crawler.shell.middlewares.refresh import RefreshMiddleware

PAGE = "http://blog.test/post"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0; url=/other", Refresh(0, "/other")),
        ("0;URL='/other'", Refresh(0, "/other")),
        ('0; url="/other" trailing', Refresh(0, "/other")),
        ("0, url=/other", Refresh(0, "/other")),  # a comma separates too
        ("0 url=/other", Refresh(0, "/other")),  # ...and whitespace
        (" 0 ; url = /other ", Refresh(0, "/other")),
        ("0;/other", Refresh(0, "/other")),  # "url=" is optional
        ("0; URL=http://other.test/a?b=c", Refresh(0, "http://other.test/a?b=c")),
        ("0.5; url=/other", Refresh(0, "/other")),  # whole seconds: a browser waits 0 s
        (".9; url=/other", Refresh(0, "/other")),
        ("1.9; url=/other", Refresh(1, "/other")),
        ("30; url=/other", Refresh(30, "/other")),
        ("100;url=/other", Refresh(100, "/other")),
        ("0", Refresh(0, None)),  # reloads itself
        ("5", Refresh(5, None)),
        ("0;", Refresh(0, None)),
        ("0; url=", Refresh(0, None)),
        ("", None),  # not a refresh a browser obeys
        ("abc; url=/x", None),
        ("-1; url=/x", None),
        ("0x; url=/x", None),
    ],
)
def test_parse_refresh(value: str, expected: Refresh | None) -> None:
    assert parse_refresh(value) == expected


def _html(head: str = "", body: str = "") -> str:
    return f"<!doctype html><html><head><title>t</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("html", "content"),
    [
        (_html('<meta http-equiv="refresh" content="30; url=/other">'), "30; url=/other"),
        (_html('<META HTTP-EQUIV="Refresh" CONTENT="0;URL=/x">'), "0;URL=/x"),
        (_html(body='<meta http-equiv="refresh" content="0; url=/late">'), "0; url=/late"),  # in body: obeyed too
        (_html('<meta http-equiv="refresh" content="nonsense"><meta http-equiv="refresh" content="0;url=/b">'), "0;url=/b"),
        (_html("<noscript><meta http-equiv='refresh' content='0; url=/nojs'></noscript>"), None),
        (_html(body="<template><meta http-equiv='refresh' content='0; url=/inert'></template>"), None),
        (_html('<meta name="refresh" content="0; url=/x">'), None),  # not http-equiv
        (_html(body="<p>please refresh the page</p>"), None),
        (_html(), None),
    ],
)
def test_meta_refresh(html: str, content: str | None) -> None:
    assert meta_refresh(html) == content


@pytest.mark.parametrize(
    ("header", "meta", "target"),
    [
        (None, "0; url=other", "http://base.test/dir/other"),  # the markup's base URL (<base href>)
        ("0; url=other", None, "http://blog.test/other"),  # the header's: the page's URL
        (None, "30; url=/other", None),  # delayed: the page is read as it is
        ("30; url=/other", None, None),
        ("30; url=/later", "0; url=/now", None),  # the header comes first and is obeyed
        ("bad", "0; url=/now", "http://base.test/now"),  # an invalid header is ignored
        (None, "0", None),  # a reload
        (None, f"0; url={PAGE}#top", None),  # the page itself
        (None, "0; url=http://[", None),  # an unparsable URL: ignored, as a browser does
        (None, None, None),
    ],
)
def test_refresh_target(header: str | None, meta: str | None, target: str | None) -> None:
    assert refresh_target(header, meta, page_url=PAGE, base_url="http://base.test/dir/") == target


def _middleware(cls: type[MetaRefreshMiddleware]) -> MetaRefreshMiddleware:
    return cls.from_crawler(get_crawler(Spider))


def _response(html: str, headers: dict[str, str] | None = None, status: int = 200) -> HtmlResponse:
    return HtmlResponse(PAGE, status=status, body=html.encode(), headers=headers or {}, request=Request(PAGE))


CASES = [
    # (head, headers, followed to)
    ('<meta http-equiv="refresh" content="0; url=/other">', {}, "http://blog.test/other"),
    ('<meta http-equiv="refresh" content="30; url=/other">', {}, None),
    ('<meta http-equiv="refresh" content="99; url=/other">', {}, None),
    ("", {"Refresh": "0; url=/other"}, "http://blog.test/other"),
    ("", {"Refresh": "30; url=/other"}, None),
]


@pytest.mark.parametrize(("head", "headers", "followed"), CASES)
def test_only_immediate_refreshes_redirect(head: str, headers: dict[str, str], followed: str | None) -> None:
    request = Request(PAGE)
    result = _middleware(RefreshMiddleware).process_response(request, _response(_html(head), headers))
    if followed is None:
        assert isinstance(result, HtmlResponse)
    else:
        assert isinstance(result, Request) and result.url == followed
        assert result.meta["redirect_urls"] == [PAGE]  # a redirect: page_redirected if the link is not there


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_an_error_page_is_not_refreshed_away_from(status: int) -> None:
    # Scrapy followed these: a 503 maintenance page refreshing to a 200 became a conclusive miss.
    html = _html('<meta http-equiv="refresh" content="0; url=/maintenance">')
    result = _middleware(RefreshMiddleware).process_response(Request(PAGE), _response(html, status=status))
    assert isinstance(result, HtmlResponse) and result.status == status


def test_what_scrapy_does_with_refreshes() -> None:
    """Why RefreshMiddleware exists: Scrapy follows a 30 s meta refresh at once, ignores the
    Refresh header, and with METAREFRESH_MAXDELAY=0 follows not even an immediate refresh."""
    scrapy = _middleware(MetaRefreshMiddleware)
    delayed = _response(_html('<meta http-equiv="refresh" content="30; url=/other">'))
    assert isinstance(scrapy.process_response(Request(PAGE), delayed), Request)
    header = _response(_html(), {"Refresh": "0; url=/other"})
    assert isinstance(scrapy.process_response(Request(PAGE), header), HtmlResponse)
    strict = MetaRefreshMiddleware.from_crawler(get_crawler(Spider, {"METAREFRESH_MAXDELAY": 0}))
    immediate = _response(_html('<meta http-equiv="refresh" content="0; url=/other">'))
    assert isinstance(strict.process_response(Request(PAGE), immediate), HtmlResponse)
    error = _response(_html('<meta http-equiv="refresh" content="0; url=/maintenance">'), status=503)
    assert isinstance(scrapy.process_response(Request(PAGE), error), Request)


def test_the_project_uses_refresh_middleware() -> None:
    import settings as project

    assert project.DOWNLOADER_MIDDLEWARES["scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware"] is None
    assert "crawler.shell.middlewares.refresh.RefreshMiddleware" in project.DOWNLOADER_MIDDLEWARES


def test_finding_the_meta_tag_stays_linear_on_hostile_markup() -> None:
    hostile = "<meta " * 200_000  # 1.2 MB of tags that never close
    started = time.perf_counter()
    assert meta_refresh(hostile) is None
    assert time.perf_counter() - started < 1.0


@given(st.text() | st.from_regex(r"\A[ \t]*[0-9.]{0,4}[ ;,]{0,3}(url ?= ?)?['\"]?[ a-z/]*['\"]?\Z"))
def test_parse_refresh_never_raises(value: str) -> None:
    refresh = parse_refresh(value)
    # The standard's steps read the time first: ASCII digits (or a ".") after leading ASCII
    # whitespace, and a value that starts otherwise is ignored.
    leading = re.match(r"[ \t\n\x0c\r]*([0-9]*)(\.?)", value)
    assert leading is not None
    if not (leading.group(1) or leading.group(2)):
        assert refresh is None
    if refresh is not None:
        assert refresh.delay == int(leading.group(1) or "0")
        # The URL is cut from the value, with its surrounding whitespace (and quotes) gone.
        url = refresh.url
        assert url is None or (url != "" and url in value and url == url.strip(" \t\n\x0c\r"))


# No lone surrogates in the markup: a decoded response never has them, and parsel cannot even build
# a selector (UnicodeEncodeError).
@given(
    st.text(),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=0) | st.from_regex(r"\A0; ?url=[\[\]:/a-z%]*\Z"),
)
def test_refresh_of_arbitrary_markup_never_raises(markup: str, value: str) -> None:
    html = f'{markup}<meta http-equiv="refresh" content="{value.replace(chr(34), "")}">{markup}'
    meta_refresh(html)
    refresh_target(value, meta_refresh(html), page_url=PAGE, base_url=PAGE)
