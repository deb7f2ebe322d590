"""Re-record what Chromium's DOM says about the HTML cases of tests/test_extract_dom.py.

    .venv/bin/python -m tests.support.record_dom       # rewrites tests/fixtures/dom/links.json

The truth for "parse as a browser does": each case is served to the headless shell at
``PAGE_URL`` (through Playwright's request interception: nothing touches the network) and the
recorder keeps, for every ``<a>`` / ``<area>`` with an href in the document (HTML and SVG), the URL
the browser resolved and the anchor the user sees (``innerText``; ``textContent`` for SVG, which has
no innerText). The test compares our static extraction to this file; run this only when a case is
added or Chromium's behaviour is to be checked again, and review the diff.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playwright.async_api import async_playwright

from crawler.shell.render.browser import LAUNCH_ARGS, find_browser

PAGE_URL = "http://page.test/dir/page.html"
OUT = Path(__file__).parents[1] / "fixtures" / "dom" / "links.json"

# name -> HTML body. Each shows one place where lxml's HTML parser, or a naive text walk, is not
# what a browser builds or renders.
CASES: dict[str, str] = {
    "template": '<p>x<template><a href="/in-template">t</a></template><a href="/after">after</a></p>',
    "nested_template": '<template><div><template><a href="/deep">d</a></template></div></template>',
    "svg_xlink_href": '<svg><a xlink:href="/svg-xlink"><text>svg one</text></a></svg>',
    "svg_href": '<svg><a href="/svg2"><text>svg two</text></a></svg>',
    "svg_both_hrefs": '<svg><a href="/svg-href" xlink:href="/svg-xlink"><text>both</text></a></svg>',
    "html_a_with_xlink_href": '<a xlink:href="/not-a-link">no</a>',
    "table_in_link": '<a href="/table"><table><tr><td>cell one</td><td>cell two</td></tr></table></a>',
    "text_then_table_in_link": '<a href="/t2">intro<table><tr><td>cell</td></tr></table></a>',
    "link_closed_before_table": '<a href="/closed">closed</a><table><tr><td>not anchor</td></tr></table>',
    "image_link_before_table": '<a href="/img"><img alt="logo" src="/l.png"></a><table><tr><td>x</td></tr></table>',
    "hidden_attribute": '<a href="/hidden">seen <span hidden>unseen</span>text</a>',
    "display_none": '<a href="/none">seen <span style="color:red; display: none !important">unseen</span>text</a>',
    "display_none_upper": '<a href="/none2">seen <b STYLE="DISPLAY:NONE">unseen</b>text</a>',
    "display_not_none": '<a href="/block">seen <span style="display:block">also seen</span></a>',
    "svg_title": '<a href="/icon"><svg><title>Twitter icon</title><path d="M0 0"/></svg>Follow us</a>',
    "select_options": '<a href="/select">Pick<select><option>one</option><option>two</option></select>end</a>',
    "br_in_anchor": '<a href="/br">line one<br>line two</a>',
    "hidden_link": '<div hidden><a href="/in-hidden">hidden link</a></div>',
    "script_style_in_anchor": '<a href="/script">a<script>var x = 1;</script><style>p{}</style>b</a>',
    # URLs as the browser resolves them (the page is http://page.test/dir/page.html)
    "scheme_without_slashes": '<a href="https:x.example/p">other scheme</a><a href="http:same">same scheme</a>',
    "triple_slash": '<a href="///x.example/path">x</a>',
    "userinfo": '<a href="https://user:pw@x.example/">x</a>',
    "backslashes": '<a href="\\\\x.example\\a\\b?q=\\c">x</a>',
    "symbol_host": '<a href="https://i\u2764.ws/">x</a><a href="http://\u0392\u038c\u039b\u039f\u03a3.gr/">y</a>',
    "control_in_query": '<a href="/q?a=&#1;b">x</a>',
    "base_href": '<base href="/base/"><a href="rel">x</a>',
}


async def record() -> dict[str, list[dict[str, str]]]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_browser(None), args=list(LAUNCH_ARGS))
        page = await browser.new_page()
        current = {"html": ""}

        async def serve(route):  # type: ignore[no-untyped-def]
            if route.request.url == PAGE_URL:
                await route.fulfill(body=current["html"], content_type="text/html; charset=utf-8")
            else:
                await route.abort()

        await page.route("**/*", serve)
        recorded = {}
        for name, body in CASES.items():
            current["html"] = f"<!doctype html><html><head><title>{name}</title></head><body>{body}</body></html>"
            await page.goto(PAGE_URL)
            recorded[name] = await page.evaluate(
                """() => [...document.querySelectorAll('a, area')].flatMap((el) => {
                    const raw = el instanceof SVGElement
                      ? (el.getAttribute('href') ?? el.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))
                      : el.getAttribute('href');
                    if (raw === null) return [];
                    const text = el instanceof HTMLElement ? el.innerText : el.textContent;
                    return [{url: new URL(raw, document.baseURI).href,
                             anchor: text.split(/\\s+/).filter(Boolean).join(' ')}];
                })"""
            )
        await browser.close()
    return recorded


def main() -> None:
    recorded = asyncio.run(record())
    fixture = {"page_url": PAGE_URL, "cases": {name: {"html": CASES[name], "links": recorded[name]} for name in CASES}}
    OUT.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
