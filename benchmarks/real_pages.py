"""Our static link extraction against Chromium's DOM, on real saved pages. Prints figures; not a test.

    .venv/bin/python benchmarks/real_pages.py             # compare against the recorded DOM (no browser)
    .venv/bin/python benchmarks/real_pages.py --record    # re-record benchmarks/corpus/dom.json with Chromium
    .venv/bin/python benchmarks/real_pages.py --show N    # also list up to N differing links per kind

The corpus (``benchmarks/corpus/``, see its README.md) is 105 real pages saved by two public
extraction test sets: news sites, blogs, shops and institutions, in English, German, French, Chinese
and more. Each page is given the URL ``http://corpus.test/<set>/<file>/`` so relative links resolve.

The truth is what Chromium's HTML parser builds: every ``<a href>`` / ``<area href>`` (and SVG
``<a>``) in the document, its href as the browser resolves it, and its ``innerText``. Chromium loads
each page with JavaScript off and every sub-resource refused (nothing leaves the machine: the document
is handed to the browser from memory and every other request is aborted), so the DOM is the parser's
tree and not what scripts made of it. Links inside ``<noscript>`` are left out, as a browser with
scripting on (and Google's renderer) parses ``<noscript>`` as text.

Figures: links in the DOM, links we found with the same URL (exactly, or equal once both are
normalised by our documented rules, :func:`crawler.core.urls.normalise`), links we missed, links we report
that the DOM does not have, and how many anchors equal the link's ``innerText`` (case aside: with
the page's own stylesheets refused, ``text-transform`` still comes from inline ``<style>``) and its
``textContent`` (whitespace collapsed in all three). A static anchor cannot know what CSS hides, so
``innerText`` is the goal for rendered pages and ``textContent`` the closer measure of the parser.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from crawler.core.extract.html import parse_html
from crawler.core.extract.links import scan_links
from crawler.core.urls import normalise

CORPUS = ROOT / "benchmarks" / "corpus"
DOM = CORPUS / "dom.json"

# Runs in the page: every link element the HTML parser built, outside <noscript>.
_LINKS_JS = """() => Array.from(document.querySelectorAll('a[href], area[href], a[*|href]'))
    .filter(el => !el.closest('noscript'))
    .map(el => ({
        href: typeof el.href === 'string' ? el.href : el.href.baseVal,
        text: typeof el.innerText === 'string' ? el.innerText : el.textContent,
        content: el.textContent,
    }))"""


def pages() -> list[tuple[str, str]]:
    """(page URL, HTML text) for every saved page, in a stable order."""
    found = []
    for path in sorted(CORPUS.glob("*/*.html.gz")):
        url = f"http://corpus.test/{path.parent.name}/{path.name.removesuffix('.html.gz')}/"
        found.append((url, gzip.decompress(path.read_bytes()).decode("utf-8", "replace")))
    return found


async def record() -> dict[str, list[dict[str, str]]]:
    from playwright.async_api import async_playwright

    from crawler.shell.render.browser import find_browser

    dom: dict[str, list[dict[str, str]]] = {}
    async with async_playwright() as pw:
        # A dead proxy as a second wall: were a request ever not intercepted, it would fail on
        # loopback instead of leaving the machine.
        browser = await pw.chromium.launch(
            executable_path=find_browser(None),
            args=["--no-sandbox", "--disable-gpu", "--proxy-server=http://127.0.0.1:9"],
        )
        context = await browser.new_context(java_script_enabled=False, service_workers="block")
        for url, html in pages():
            page = await context.new_page()

            async def serve(route, request, url=url, html=html):
                if request.url == url:
                    await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
                else:
                    await route.abort()

            await page.route("**/*", serve)
            await page.goto(url, wait_until="domcontentloaded")
            dom[url] = await page.evaluate(_LINKS_JS)
            await page.close()
        await browser.close()
    return dom


def _web(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _key(url: str) -> str:
    try:
        return normalise(url)
    except ValueError:
        return url


def compare(dom: dict[str, list[dict[str, str]]], show: int) -> int:
    totals: Counter[str] = Counter()
    examples: dict[str, list[str]] = {"missed": [], "extra": [], "anchor": []}
    for url, html in pages():
        if url not in dom:
            print(f"{url}: not recorded; run with --record", file=sys.stderr)
            return 2
        truth = [link for link in dom[url] if _web(link["href"])]
        ours = scan_links(parse_html(html), url).links
        totals["pages"] += 1
        totals["dom_links"] += len(truth)
        exact = Counter(link.url for link in ours)
        equivalent = Counter(_key(link.url) for link in ours)
        anchors: dict[str, list[str]] = {}
        for link in ours:
            anchors.setdefault(_key(link.url), []).append(_squash(link.anchor or ""))
        for link in truth:
            href, key = link["href"], _key(link["href"])
            if exact[href] > 0:
                exact[href] -= 1
                equivalent[key] -= 1
                totals["same_url"] += 1
            elif equivalent[key] > 0:
                equivalent[key] -= 1
                totals["equivalent_url"] += 1
            else:
                totals["missed"] += 1
                examples["missed"].append(f"{url} {href!r}")
                continue
            expected = _squash(link["text"])
            seen = anchors.get(key) or [""]
            got = seen.pop(0) if len(seen) > 1 else seen[0]
            totals["same_text"] += got == _squash(link["content"])
            if got.casefold() == expected.casefold():
                totals["same_anchor"] += 1
            else:
                examples["anchor"].append(f"{url} {href!r}: ours {got[:80]!r}, DOM {expected[:80]!r}")
        extra = sum(n for n in equivalent.values() if n > 0)
        totals["extra"] += extra
        if extra:
            examples["extra"] += [f"{url} {k!r}" for k, n in equivalent.items() if n > 0]
    found = totals["same_url"] + totals["equivalent_url"]
    links = totals["dom_links"] or 1
    print(f"pages                           {totals['pages']}")
    print(f"http(s) links in the DOM        {totals['dom_links']}")
    print(f"found, same URL                 {totals['same_url']}")
    print(f"found, equivalent URL           {totals['equivalent_url']}")
    print(f"missed                          {totals['missed']}  ({100 * totals['missed'] / links:.2f}%)")
    print(f"reported, not in the DOM        {totals['extra']}")
    for name, label in (("same_anchor", "anchor = innerText (case aside)"), ("same_text", "anchor = textContent")):
        print(f"{label:<32}{totals[name]} of {found}  ({100 * totals[name] / (found or 1):.2f}%)")
    for kind, rows in examples.items():
        for row in rows[:show]:
            print(f"  {kind}: {row}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="re-record the DOM with Chromium first")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="list up to N differences per kind")
    args = parser.parse_args()
    if args.record:
        DOM.write_text(json.dumps(asyncio.run(record()), ensure_ascii=False, indent=0, sort_keys=True) + "\n")
    return compare(json.loads(DOM.read_text()), args.show)


if __name__ == "__main__":
    sys.exit(main())
