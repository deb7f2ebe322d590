"""The golden extraction fixtures against an independent reading of the same files.

``tests/support/golden.py`` records what our extractors say, so a re-recording can only show that
the output changed, not that it is right. Here each fixture is read by html5lib, a pure-Python
implementation of the HTML standard's parser (encoding sniffing and tree construction included) that
shares no code with lxml or with our extraction; the links, the document's base URL and the rel
tokens are found as the HTML standard says. (URLs are resolved with ada_url, a URL Standard parser
that our extraction uses too: what is checked here is which href is resolved against which base.)
The links a golden file records must be exactly the ``<a>`` and ``<area>`` elements with an href
whose URL matches the target, in document order, with the same href and rel tokens; its count of
external links must be the number of web links to another host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any
from xml.etree.ElementTree import Element

import ada_url
import html5lib
import pytest

from crawler.core.extract import scan_links
from crawler.core.urls import Target
from tests.support import golden

HTML_NS = "{http://www.w3.org/1999/xhtml}"
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# The HTML standard's ASCII whitespace, which separates the tokens of rel.
ASCII_WHITESPACE = re.compile(r"[\t\n\x0c\r ]+")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Link:
    tag: str
    href: str
    url: str
    rel: list[str]


def read(name: str) -> tuple[dict[str, Any], Element]:
    """The case's input and its document as html5lib builds it from the bytes: the charset of the
    Content-Type header is the transport-layer encoding, which a BOM overrides and which a
    ``<meta charset>`` stands in for when absent (the standard's encoding sniffing)."""
    case = golden.load(name)
    content_type = (case["input"].get("headers", {}).get("content-type") or [None])[0]
    charset = None
    if content_type is not None:
        message = Message()
        message["content-type"] = content_type
        charset = message.get_content_charset()
    body = (golden.PAGES / f"{name}.html").read_bytes()
    return case, html5lib.parse(body, transport_encoding=charset)


def elements(node: Element) -> Iterator[Element]:
    """Every element of the document in tree order, except template contents: html5lib keeps them
    as children of the ``<template>``, but they are in a fragment of their own, not in the document."""
    for child in node:
        if not isinstance(child.tag, str):  # a comment
            continue
        yield child
        if child.tag != HTML_NS + "template":
            yield from elements(child)


def document_base(document: Element, fallback: str) -> str:
    """The document base URL: the first ``<base>`` with an href, resolved against the page's URL."""
    for element in elements(document):
        if element.tag == HTML_NS + "base" and "href" in element.attrib:
            try:
                return ada_url.join_url(fallback, element.attrib["href"])
            except ValueError:  # a base the URL parser refuses leaves the fallback in force
                return fallback
    return fallback


def links(document: Element, page_url: str) -> list[Link]:
    """The hyperlinks a browser would follow to a web URL: HTML ``<a>``/``<area>`` with an href,
    and SVG ``<a>`` with an href (or, SVG 1.1, an xlink:href)."""
    base = document_base(document, page_url)
    found = []
    for element in elements(document):
        if element.tag in (HTML_NS + "a", HTML_NS + "area"):
            href = element.attrib.get("href")
        elif element.tag == SVG_NS + "a":
            href = element.attrib.get("href", element.attrib.get(XLINK_HREF))
        else:
            continue
        if href is None:
            continue
        try:
            url = ada_url.join_url(base, href)
        except ValueError:
            continue
        if url.startswith(("http://", "https://")):
            found.append(Link(element.tag.rpartition("}")[2], href, url, rel_tokens(element.attrib.get("rel"))))
    return found


def rel_tokens(rel: str | None) -> list[str]:
    """rel as a set of tokens: split on ASCII whitespace, ASCII case-insensitive, each once."""
    tokens = (token.translate(ASCII_LOWER) for token in ASCII_WHITESPACE.split(rel or "") if token)
    return list(dict.fromkeys(tokens))


def host(url: str) -> str:
    """A URL's host as links are counted external: without ``www.`` and a final dot."""
    return ada_url.URL(url).hostname.removesuffix(".").removeprefix("www.")


@pytest.mark.parametrize("name", golden.case_names())
def test_recorded_links_are_the_documents_links_to_the_target(name: str) -> None:
    case, document = read(name)
    target = Target(case["input"]["target"], case["input"]["mode"])
    truth = [link for link in links(document, case["input"]["final_url"]) if target.matches(link.url)]
    recorded = [Link(link["tag"], link["href"], link["url"], link["rel"]) for link in case["expected"]["links"]]
    assert recorded == truth


@pytest.mark.parametrize("name", golden.case_names())
def test_recorded_external_count_is_the_documents(name: str) -> None:
    case, document = read(name)
    page_url = case["input"]["final_url"]
    external = [link.url for link in links(document, page_url) if host(link.url) != host(page_url)]
    assert case["expected"]["page"]["external_links"] == len(external), external


@pytest.mark.parametrize("name", golden.case_names())
def test_every_link_of_the_fixture_is_read_as_the_standard_reads_it(name: str) -> None:
    """Not only those to the target, which are all a golden file records."""
    case, document = read(name)
    page_url = case["input"]["final_url"]
    _, _, sel = golden.parsed(name)
    ours = [Link(link.tag, link.href, link.url, list(link.rel)) for link in scan_links(sel, page_url).links]
    assert ours == links(document, page_url)


def test_the_fixtures_exercise_what_is_checked() -> None:
    """The checks above would pass on fixtures without links. Between them the fixtures have
    relative hrefs under a <base>, an <area>, SVG links, several rel tokens, links to other hosts
    and a link in a template, which is none."""
    read_cases = {name: read(name) for name in golden.case_names()}
    found = {name: links(document, case["input"]["final_url"]) for name, (case, document) in read_cases.items()}
    assert any(not link.href.startswith(("http:", "https:", "//")) for link in found["base_href"])
    assert [link.tag for link in found["image_link"]] == ["a", "a", "area"]
    assert any(len(link.rel) > 1 for page in found.values() for link in page)
    assert sum(case["expected"]["page"]["external_links"] for case, _ in read_cases.values()) > 10
    traps = read_cases["parser_traps"][1]
    assert sum(element.tag == SVG_NS + "a" for element in elements(traps)) == 2
    [template] = traps.iter(HTML_NS + "template")
    assert template.find(f".//{HTML_NS}a") is not None
    assert len(found["parser_traps"]) == 8  # the template's link is not one
