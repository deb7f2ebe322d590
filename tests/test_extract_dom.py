"""Our static link extraction against Chromium's DOM, case by case (tests/fixtures/dom/links.json,
recorded from the real browser by tests/record_dom.py): the links a browser has, with the URLs it
resolves and the anchor text it renders (innerText)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.extract import extract_links
from crawler.extract.html import parse_html
from crawler.urls import canonical_link

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "dom" / "links.json").read_text())


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_links_and_anchors_are_chromiums(name: str) -> None:
    case = FIXTURE["cases"][name]
    html = f"<!doctype html><html><head><title>{name}</title></head><body>{case['html']}</body></html>"
    ours = [
        (canonical_link(link.url), link.anchor)
        for link in extract_links(parse_html(html), FIXTURE["page_url"])
    ]
    assert ours == [(canonical_link(link["url"]), link["anchor"]) for link in case["links"]]
