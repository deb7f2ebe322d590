"""Our static link extraction against Chromium's DOM, case by case (tests/fixtures/dom/links.json,
recorded from the real browser by tests/record_dom.py): the links a browser has, with the URLs it
resolves and the anchor text it renders (innerText)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.core.extract import scan_links
from crawler.core.extract.html import parse_html

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "dom" / "links.json").read_text())


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_links_and_anchors_are_chromiums(name: str) -> None:
    case = FIXTURE["cases"][name]
    html = f"<!doctype html><html><head><title>{name}</title></head><body>{case['html']}</body></html>"
    # Our URLs are the browser's hrefs exactly (both are WHATWG's serialisation).
    ours = [(link.url, link.anchor) for link in scan_links(parse_html(html), FIXTURE["page_url"]).links]
    assert ours == [(link["url"], link["anchor"]) for link in case["links"]]


def test_long_tables_in_links_are_told_apart_by_their_text() -> None:
    cells = "".join(f"<td> cell\n {i} </td>" for i in range(40))
    html = (
        f'<a href="/same">closed</a><table><tr>{cells}</tr></table>'
        f'<a href="/same"><table><tr><td>other</td>{cells}</tr></table></a>'
    )
    links = scan_links(parse_html(html), FIXTURE["page_url"]).links
    assert [link.anchor[:11] for link in links] == ["closed", "other cell "]


def test_hostile_nesting_of_tables_in_links_stays_cheap() -> None:
    start = time.process_time()
    for html in ('<a href="/x"><table><tr><td>' * 20_000 + "deep", '<a href="/x">a</a><table></table>' * 20_000):
        parse_html(html)
    assert time.process_time() - start < 2


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["<a href='/x'>", "</a>", "<table>", "</table>", "<tr>", "<td>", "text", " ",
                                 "<template>", "</template>", "<svg>", "<a xlink:href='/s'>", "<p>", "<div hidden>"]),
                max_size=30).map("".join))
def test_parse_html_never_raises(html: str) -> None:
    sel = parse_html(html)
    for link in scan_links(sel, FIXTURE["page_url"]).links:
        assert link.url.startswith("http://page.test/")
