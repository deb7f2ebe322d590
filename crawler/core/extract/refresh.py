"""Declarative refreshes: the ``Refresh`` header and ``<meta http-equiv="refresh">``. Pure.

A refresh is a redirect only when it is immediate: Google treats a 0-second refresh as a redirect,
while a page that refreshes after 30 seconds is read, and judged, as the page it is (a visitor and
a search engine see its own links). Scrapy's MetaRefreshMiddleware followed every meta refresh of
up to ``METAREFRESH_MAXDELAY`` (100 s) at once, and ignored the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin

import parsel

_ASCII_WHITESPACE = " \t\n\x0c\r"
_DIGITS = re.compile(r"[0-9]*")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]*")
# A <meta> tag that mentions "refresh". Not [^>]*: a run of "<meta" without ">" would be scanned to
# its end once per "<meta", quadratic on a hostile page; [^<>]* stops at the next tag.
_META_REFRESH_TAG = re.compile(r"<meta\b[^<>]*refresh[^<>]*>?", re.IGNORECASE)


@dataclass(frozen=True)
class Refresh:
    delay: int  # whole seconds, as a browser reads them ("0.5" is 0)
    url: str | None  # as written (unresolved); None: the page reloads itself

    @property
    def immediate(self) -> bool:
        return self.delay == 0


def parse_refresh(value: str) -> Refresh | None:
    """A ``Refresh`` header or ``<meta http-equiv=refresh content>`` value, read as the HTML
    standard's "shared declarative refresh steps" read it; None when a browser would ignore it."""
    position = len(value) - len(value.lstrip(_ASCII_WHITESPACE))
    digits = _DIGITS.match(value, position).group()  # type: ignore[union-attr]
    position += len(digits)
    if not digits and not value.startswith(".", position):
        return None
    delay = int(digits) if digits else 0
    position = _DIGITS_AND_DOTS.match(value, position).end()  # type: ignore[union-attr]
    if position < len(value):
        if value[position] not in ";," + _ASCII_WHITESPACE:
            return None
        position = _skip_whitespace(value, position)
        if value.startswith((";", ","), position):
            position = _skip_whitespace(value, position + 1)
    if position >= len(value):
        return Refresh(delay, None)
    # An optional "url" "=" (any case, whitespace around "="), then an optional quote.
    if value[position : position + 3].lower() == "url":
        after = _skip_whitespace(value, position + 3)
        if value.startswith("=", after):
            position = _skip_whitespace(value, after + 1)
        else:
            position += 3
    quote = value[position] if value.startswith(("'", '"'), position) else ""
    url = value[position + len(quote) :]
    if quote and quote in url:
        url = url[: url.index(quote)]
    url = url.strip(_ASCII_WHITESPACE)
    return Refresh(delay, url or None)


def _skip_whitespace(value: str, position: int) -> int:
    while position < len(value) and value[position] in _ASCII_WHITESPACE:
        position += 1
    return position


def meta_refresh(text: str, ignore_tags: Iterable[str] = ("noscript",)) -> str | None:
    """The ``content`` of the page's first valid ``<meta http-equiv="refresh">`` (the one a
    browser obeys), outside ``<template>`` (inert) and ``ignore_tags`` (``<noscript>``: a browser that
    runs scripts does not parse its content); None when there is none.

    Most pages have none, which a scan of the markup tells without parsing; a page that has one is
    parsed only up to its last candidate tag (usually the end of ``<head>``), which is enough to
    know each candidate's ancestors.
    """
    last = None
    for last in _META_REFRESH_TAG.finditer(text):
        pass
    if last is None:
        return None
    ignored = " and ".join(f"not(ancestor::{tag})" for tag in ("template", *ignore_tags))
    contents = parsel.Selector(text=text[: last.end()], type="html").xpath(
        "//meta[translate(normalize-space(@http-equiv), 'REFSH', 'refsh') = 'refresh']"
        f"[@content][{ignored}]/@content"
    )
    return next((content for content in contents.getall() if parse_refresh(content) is not None), None)


def refresh_target(
    header: str | None, meta: str | None, *, page_url: str, base_url: str
) -> str | None:
    """Where an immediate refresh sends the page, absolute; None when the page is to be read as it
    is (no refresh, a delayed one, or a reload of the page itself).

    The header wins over the markup, as in a browser, which obeys the first refresh it meets and
    reads the headers first. A header URL resolves against the page's URL, a meta one against the
    document's base URL (``<base href>``).
    """
    for value, base in ((header, page_url), (meta, base_url)):
        refresh = parse_refresh(value) if value is not None else None
        if refresh is None:
            continue
        if not refresh.immediate or refresh.url is None:
            return None
        try:
            target = urljoin(base, refresh.url)
        except ValueError:  # e.g. "http://[": a URL a browser cannot parse is a refresh it ignores
            return None
        return None if urldefrag(target).url == urldefrag(page_url).url else target
    return None
