"""What runs in each rendered page: wait (bounded) for the target's links, mark hidden links, keep the
server's raw HTML so one browser visit tells "raw", "rendered" or "both".

A :class:`RenderProbe` is made per render request; scrapy-playwright calls :meth:`RenderProbe.on_page`
before navigating (``playwright_page_init_callback``) and :meth:`RenderProbe.inspect` once the page
has loaded (a ``PageMethod``). The rendered DOM then carries ``data-backlinks-hidden="0|1"`` on every
link, which the pure link extractor reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page
from playwright.async_api import Response as PlaywrightResponse
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from crawler.extract.links import HIDDEN_ATTR

# Runs in the page. Polls until a link to one of the target hosts exists or the wait is over, then
# marks each link hidden or not. Hidden: display:none or visibility:hidden on it or an ancestor,
# opacity 0 on it or an ancestor, (almost) zero size, or placed entirely off the page.
INSPECT_SCRIPT = """
async ({hosts, waitMs, attr}) => {
  const links = () => document.querySelectorAll('a[href], area[href]');
  const wanted = (a) => {
    try {
      const host = new URL(a.getAttribute('href'), document.baseURI).hostname.toLowerCase().replace(/^www\\./, '');
      return hosts.some((h) => host === h || host.endsWith('.' + h));
    } catch (e) { return false; }
  };
  const started = performance.now();
  while (!Array.prototype.some.call(links(), wanted) && performance.now() - started < waitMs) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const found = Array.prototype.some.call(links(), wanted);
  const area = (r) => r.width > 1 && r.height > 1;
  const boxHidden = (el) => {
    const boxes = [el, ...el.querySelectorAll('*')].map((n) => n.getBoundingClientRect()).filter(area);
    if (!boxes.length) return true;  // zero size, or display:none here or above
    const x = window.scrollX, y = window.scrollY;
    const page = Math.max(document.documentElement.scrollWidth, window.innerWidth) + 1000;
    return boxes.every((r) => r.right + x <= 0 || r.bottom + y <= 0 || r.left + x >= page);
  };
  const hidden = (el) => {
    if (el.tagName === 'AREA') {
      const map = el.closest('map');
      const img = map && map.name && document.querySelector(`img[usemap="#${CSS.escape(map.name)}"]`);
      return img ? hidden(img) : false;
    }
    for (let n = el; n; n = n.parentElement) {
      const style = getComputedStyle(n);
      if (style.display === 'none' || parseFloat(style.opacity) === 0) return true;
    }
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.visibility === 'collapse') {
      // A visible child of a hidden link still shows (visibility is inherited but overridable).
      return ![...el.querySelectorAll('*')].some((n) => getComputedStyle(n).visibility === 'visible' && area(n.getBoundingClientRect()));
    }
    return boxHidden(el);
  };
  let count = 0;
  for (const el of links()) {
    const isHidden = hidden(el);
    count += isHidden ? 1 : 0;
    el.setAttribute(attr, isHidden ? '1' : '0');
  }
  return {found, hidden: count, waited: Math.round(performance.now() - started)};
}
"""
# Beyond the wait for links: how long the in-page script may run before the page is given up
# (a page stuck in a loop never answers).
SCRIPT_GRACE_SECONDS = 5.0


class RenderStuck(PlaywrightTimeoutError):
    """The page did not answer the probe in time (a busy loop, a frozen tab): a render timeout."""


@dataclass
class RenderProbe:
    """One render request's in-page helpers and what they found."""

    hosts: tuple[str, ...]  # target hosts, lower-case, without "www."
    wait_ms: int
    # Keep the server's HTML from this visit: not when a static fetch already showed the raw view.
    want_raw: bool = True
    raw_body: bytes | None = None  # the server's HTML, before any script ran
    found: bool = False
    hidden: int = 0
    waited_ms: int = 0
    _document: PlaywrightResponse | None = field(default=None, repr=False)
    _page: Page | None = field(default=None, repr=False)

    async def on_page(self, page: Page, request: Any) -> None:
        """Before navigation, on a new or a reused page (also again when scrapy-playwright retries
        on a fresh page)."""
        self._page, self._document = page, None
        page.on("response", self._on_response)

    def _on_response(self, response: PlaywrightResponse) -> None:
        # The main frame's document; after a redirect chain, the last one.
        if self._page is not None and response.request.is_navigation_request() and response.frame == self._page.main_frame:
            self._document = response

    async def inspect(self, page: Page) -> dict[str, Any]:
        """Called by scrapy-playwright after the page loaded; raises on a stuck page so it is closed.
        Leaves the page without this probe's listener: the page may go on to another render."""
        try:
            return await self._inspect(page)
        finally:
            page.remove_listener("response", self._on_response)

    async def _inspect(self, page: Page) -> dict[str, Any]:
        try:
            result = await asyncio.wait_for(
                page.evaluate(INSPECT_SCRIPT, {"hosts": list(self.hosts), "waitMs": self.wait_ms, "attr": HIDDEN_ATTR}),
                timeout=self.wait_ms / 1000 + SCRIPT_GRACE_SECONDS,
            )
        except TimeoutError:
            raise RenderStuck(f"the page did not answer within {self.wait_ms / 1000 + SCRIPT_GRACE_SECONDS:.0f} s") from None
        self.found, self.hidden, self.waited_ms = bool(result["found"]), int(result["hidden"]), int(result["waited"])
        if self.want_raw and self._document is not None:
            try:
                self.raw_body = await self._document.body()
            except Exception:  # noqa: BLE001 - evicted or not a body (204): the raw view is simply unknown
                self.raw_body = None
        return result


def target_hosts(target_urls: Sequence[str]) -> tuple[str, ...]:
    """The hosts a render waits for: lower-case, without "www." (a cheap over-approximation; the
    pure matcher decides)."""
    hosts = []
    for url in target_urls:
        rest = url.split("//", 1)[-1]
        host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        host = host.partition("]")[0].lstrip("[") if host.startswith("[") else host.partition(":")[0]
        host = host.lower().rstrip(".").removeprefix("www.")
        if host and host not in hosts:
            hosts.append(host)
    return tuple(hosts)
