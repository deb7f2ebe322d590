"""Our static link extraction against Chromium's DOM, on a folder of real saved pages. Not a test.

    .venv/bin/python benchmarks/dom_links.py PAGES_DIR [--truth truth.json] [--js] [--show 10]

``PAGES_DIR`` holds saved pages (``*.html`` or ``*.html.gz``), for instance the 181 news and blog
articles of scrapinghub/article-extraction-benchmark (its ``html/`` folder). Each page is served
to the headless shell at ``http://page.test/NAME.html`` through Playwright's request interception
(every other request is aborted: nothing leaves the machine) with JavaScript off, so the DOM is
what the HTML parser built (``--js`` runs the pages' inline scripts too). The truth is, for every
``<a>``/``<area>`` (HTML or SVG) with an href that resolves to http(s): the URL Chromium resolves
and its ``innerText``. Ours is ``parse_html`` + ``extract_links`` on the same text: each page is
decoded once as Scrapy decodes it (w3lib) and served to the browser as UTF-8, so that charset
sniffing, which is not under test, cannot differ. ``--truth`` caches the browser's answers, so
code changes re-run in seconds.

Printed: links per side, how many of the browser's links we find (by normalised URL, counting
repeats) and how many we report that the browser does not have, and of the links found on both
sides (paired in document order), how many anchors agree: exactly (whitespace-normalised), up to
letter case (innerText applies CSS ``text-transform``), and how many differ only because the
page's style sheets hide the text (the browser's anchor is empty), which no static reading sees.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
from collections import Counter
from pathlib import Path

from playwright.async_api import Error as PlaywrightError, Route, async_playwright
from w3lib.encoding import html_to_unicode

from crawler.extract import extract_links, parse_html
from crawler.render.browser import LAUNCH_ARGS, find_browser
from crawler.urls import canonical_link

HOST = "http://page.test/"
_LINKS_JS = """() => [...document.querySelectorAll('a, area')].flatMap((el) => {
  const raw = el instanceof SVGElement
    ? (el.getAttribute('href') ?? el.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))
    : el.getAttribute('href');
  if (raw === null) return [];
  let url;
  try { url = new URL(raw, document.baseURI).href; } catch (e) { return []; }
  if (!/^https?:/.test(url)) return [];
  const text = el instanceof HTMLElement ? el.innerText : el.textContent;
  return [[url, text.split(/\\s+/).filter(Boolean).join(' ')]];
})"""


def load(path: Path) -> str:
    data = path.read_bytes()
    _, text = html_to_unicode(None, gzip.decompress(data) if path.suffix == ".gz" else data)
    return text


def page_name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".html")


async def browser_links(pages: dict[str, str], js: bool) -> dict[str, list[list[str]] | None]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=find_browser(None), args=list(LAUNCH_ARGS))
        context = await browser.new_context(java_script_enabled=js)
        page = await context.new_page()

        async def serve(route: Route) -> None:
            name = route.request.url.removeprefix(HOST).removesuffix(".html")
            if route.request.url.startswith(HOST) and name in pages:
                await route.fulfill(body=pages[name].encode("utf-8", "surrogatepass"),
                                    content_type="text/html; charset=utf-8")
            else:
                await route.abort()

        await page.route("**/*", serve)
        found: dict[str, list[list[str]] | None] = {}
        for name in pages:
            try:
                await page.goto(f"{HOST}{name}.html", wait_until="domcontentloaded")
                found[name] = await page.evaluate(_LINKS_JS)
            except PlaywrightError:  # with --js, a script navigated away: not the page any more
                found[name] = None
        await browser.close()
    return found


def our_links(text: str, url: str) -> list[tuple[str, str]]:
    return [(link.url, link.anchor) for link in extract_links(parse_html(text), url)]


def compare(truth: list[tuple[str, str]], ours: list[tuple[str, str]]) -> dict[str, object]:
    want = Counter(canonical_link(url) for url, _ in truth)
    have = Counter(canonical_link(url) for url, _ in ours)
    # Pair the links of each URL in document order, to compare their anchors.
    by_url: dict[str, list[str]] = {}
    for url, anchor in ours:
        by_url.setdefault(canonical_link(url), []).append(anchor)
    pairs = []
    for url, anchor in truth:
        mine = by_url.get(canonical_link(url))
        if mine:
            pairs.append((anchor, mine.pop(0), url))
    return {
        "truth": sum(want.values()),
        "ours": sum(have.values()),
        "found": sum((want & have).values()),
        "missed": sorted((want - have).elements()),
        "extra": sorted((have - want).elements()),
        "anchors_same": sum(a == b for a, b, _ in pairs),
        "anchors_case": sum(a != b and a.casefold() == b.casefold() for a, b, _ in pairs),
        "anchors_styled_away": sum(not a and bool(b) for a, b, _ in pairs),
        "anchor_pairs": len(pairs),
        "anchor_diffs": [(url, a, b) for a, b, url in pairs if a.casefold() != b.casefold() and a],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", type=Path)
    parser.add_argument("--truth", type=Path, help="cache of the browser's links (read if it exists, else written)")
    parser.add_argument("--js", action="store_true", help="run the pages' inline scripts in the browser")
    parser.add_argument("--show", type=int, default=10, help="examples of each kind of difference to print")
    options = parser.parse_args()
    paths = sorted(p for p in options.pages.iterdir() if p.name.endswith((".html", ".html.gz")))
    pages = {page_name(p): load(p) for p in paths}
    if options.truth and options.truth.exists():
        truth = json.loads(options.truth.read_text())
    else:
        truth = asyncio.run(browser_links(pages, options.js))
        if options.truth:
            options.truth.write_text(json.dumps(truth))
    totals: Counter[str] = Counter()
    missed, extra, anchors = [], [], []
    for name, text in pages.items():
        if truth[name] is None:
            totals["navigated_away"] += 1
            continue
        result = compare([tuple(x) for x in truth[name]], our_links(text, f"{HOST}{name}.html"))
        for key in ("truth", "ours", "found", "anchors_same", "anchors_case", "anchors_styled_away", "anchor_pairs"):
            totals[key] += result[key]  # type: ignore[operator]
        totals["pages_all_found"] += not result["missed"]
        totals["pages_no_extra"] += not result["extra"]
        missed += [(name, u) for u in result["missed"]]  # type: ignore[attr-defined]
        extra += [(name, u) for u in result["extra"]]  # type: ignore[attr-defined]
        anchors += [(name, *d) for d in result["anchor_diffs"]]  # type: ignore[attr-defined]
    n = len(pages) - totals["navigated_away"]
    print(f"pages: {n} (JavaScript {'on' if options.js else 'off'}; left out: {totals['navigated_away']}"
          " whose scripts navigated away)")
    print(f"links: browser {totals['truth']}, ours {totals['ours']}")
    print(f"browser's links we find: {totals['found']} = {totals['found'] / max(totals['truth'], 1):.2%}"
          f"; pages with every link found: {totals['pages_all_found']}/{n}")
    print(f"links we report the browser lacks: {len(extra)}; pages with none: {totals['pages_no_extra']}/{n}")
    pairs = max(totals["anchor_pairs"], 1)
    same, case, styled = totals["anchors_same"], totals["anchors_case"], totals["anchors_styled_away"]
    print(f"anchors on links found by both: {totals['anchor_pairs']}; equal {same} = {same / pairs:.2%}"
          f", equal up to case {same + case} = {(same + case) / pairs:.2%}"
          f", empty in the browser only (hidden by style sheets) {styled} = {styled / pairs:.2%}"
          f", other differences {len(anchors)} = {len(anchors) / pairs:.2%}")
    for title, rows in (("missed", missed), ("extra", extra), ("anchor differs otherwise (browser | ours)", anchors)):
        if rows and options.show:
            print(f"\n{title}, first {min(options.show, len(rows))} of {len(rows)}:")
            for row in rows[: options.show]:
                print("  " + " | ".join(str(cell)[:110] for cell in row))


if __name__ == "__main__":
    main()
