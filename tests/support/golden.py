"""Golden extraction fixtures: ``tests/fixtures/pages/<name>.html`` plus ``<name>.expected.json``.

The JSON file holds the ``input`` (page URLs, status, headers, target and match mode) and the
``expected`` output of the extractors for that input. To add a case, write the HTML and a JSON file
with only ``input``; to re-record after a deliberate change, run

    .venv/bin/python -m tests.support.golden [name ...]

and review the change as a diff of the ``.expected.json`` files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import parsel
from w3lib.encoding import html_to_unicode

from crawler.core.extract import effective_follow, extract_page, is_html, looks_like_challenge, parse_html, scan_links
from crawler.core.urls import Target

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"


def case_names() -> list[str]:
    return sorted(path.name.removesuffix(".expected.json") for path in PAGES.glob("*.expected.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((PAGES / f"{name}.expected.json").read_text(encoding="utf-8"))


def parsed(name: str) -> tuple[bytes, str, parsel.Selector]:
    """The body of case ``name``, its text and the selector our extractors read it with."""
    body = (PAGES / f"{name}.html").read_bytes()
    content_type = (load(name)["input"].get("headers", {}).get("content-type") or [None])[0]
    # Decoded as Scrapy's HtmlResponse does: header charset, then BOM, then <meta charset>.
    _, text = html_to_unicode(content_type, body)
    return body, text, parse_html(text)


def run(name: str) -> dict[str, Any]:
    """What the extractors say today about case ``name``, in the shape of ``expected``."""
    case = load(name)["input"]
    headers: dict[str, list[str]] = case.get("headers", {})
    content_type = (headers.get("content-type") or [None])[0]
    body, text, sel = parsed(name)
    target = Target(case["target"], case["mode"])
    scan = scan_links(sel, case["final_url"], target.matches)
    page = extract_page(
        sel,
        url=case["url"],
        final_url=case["final_url"],
        http_status=case["http_status"],
        headers=headers,
        redirects=case.get("redirects", ()),
        body=body,
        external_links=scan.external_links,
        sponsored_links=scan.sponsored_links,
    )
    return {
        "is_html": is_html(content_type, body),
        "challenge": looks_like_challenge(case["http_status"], headers, text),
        "page": page.model_dump(mode="json"),
        "links": [link.model_dump(mode="json") for link in scan.links],
        "follow": [effective_follow(link, page) for link in scan.links],
    }


def regenerate(names: list[str]) -> None:
    for name in names or case_names():
        case = load(name)
        case["expected"] = run(name)
        text = json.dumps(case, indent=2, ensure_ascii=False) + "\n"
        (PAGES / f"{name}.expected.json").write_text(text, encoding="utf-8")
        print(f"regenerated {name}")


if __name__ == "__main__":
    regenerate(sys.argv[1:])
