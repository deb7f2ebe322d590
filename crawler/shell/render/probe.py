"""What runs in each rendered page: wait (bounded) for the target's links, mark hidden links, keep the
server's raw HTML so one browser visit tells "raw", "rendered" or "both".

A :class:`RenderProbe` is made per render request; scrapy-playwright calls :meth:`RenderProbe.on_page`
before navigating (``playwright_page_init_callback``), and our handler calls
:meth:`RenderProbe.inspect` once the navigation reached DOMContentLoaded. The rendered DOM then carries ``data-backlinks-hidden="0|1"`` on every
link, which the pure link extractor reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import Response as PlaywrightResponse
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from crawler.core.extract.links import HIDDEN_ATTR
from crawler.core.urls import host_key

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
# How long reading the server's HTML back from the browser may take: a renderer stuck in a loop
# cannot hand it over, and the render must not wait for it.
RAW_BODY_SECONDS = 2.0
# Sub-resources that can still add a link once the DOM is there: scripts and the data they fetch.
# When the wait is over without the link and some are in flight, the probe waits for them as long
# again (at most), then looks once more; images, stylesheets, fonts, frames are never awaited.
CAN_ADD_LINKS = frozenset({"script", "xhr", "fetch"})
# Runs in every document before its own scripts. A page must not hold the render with modal
# dialogs (1,000 alert()s each wait for an answer) or open windows (each a new page and renderer):
# dialogs answer at once as a dismissed dialog would, and window.open() gets null, as from a
# popup blocker. Popups that open anyway are closed (crawler.shell.render.handler).
QUIET_SCRIPT = """
(() => {
  window.alert = () => undefined;
  window.confirm = () => false;
  window.prompt = () => null;
  window.print = () => undefined;
  window.open = () => null;
})();
"""
# The key of a render request's probe in its meta.
PROBE_META = "backlinks_probe"


class RenderStuck(PlaywrightTimeoutError):
    """The page did not answer the probe in time (a busy loop, a frozen tab): a render timeout."""


@dataclass
class RenderProbe:
    """One render request's in-page helpers and what they found.

    Besides the wait for links, it watches the main frame: the document the navigation ended on
    (the requested URL, or the last hop of its HTTP redirects), and any new document a script
    navigated to afterwards (``location = ...``, a form, a refresh), so a render that left the page
    is not taken for the page (:meth:`left_page`).
    """

    hosts: tuple[str, ...]  # target hosts, lower-case, without "www."
    wait_ms: int
    # Keep the server's HTML from this visit: not when a static fetch already showed the raw view.
    want_raw: bool = True
    raw_body: bytes | None = None  # the server's HTML, before any script ran
    found: bool = False
    hidden: int = 0
    waited_ms: int = 0
    document_url: str | None = None  # the URL of the document the navigation loaded
    document_status: int = 200
    document_headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    redirect_chain: tuple[str, ...] = ()  # its HTTP redirect hops, requested URL first
    navigated_to: str | None = None  # the first new document a script navigated the page to
    started: float | None = None  # time.monotonic() when the render began
    _page: Page | None = field(default=None, repr=False)
    _pending: set[PlaywrightRequest] = field(default_factory=set, repr=False)
    _body: asyncio.Task[None] | None = field(default=None, repr=False)

    async def on_page(self, page: Page, request: Any) -> None:
        """Before navigation, on a new or a reused page (also again when scrapy-playwright retries
        on a fresh page)."""
        if self._page is not None:
            self._forget(self._page)
        self._page, self.document_url, self.redirect_chain, self.navigated_to = page, None, (), None
        self._body, self.raw_body = None, None
        self._pending = set()
        self.started = self.started or time.monotonic()
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)

    def _main_document(self, request: PlaywrightRequest) -> bool:
        try:
            return self._page is not None and request.is_navigation_request() and request.frame == self._page.main_frame
        except PlaywrightError:  # a request of a service worker has no frame
            return False

    def _on_request(self, request: PlaywrightRequest) -> None:
        if request.resource_type in CAN_ADD_LINKS:
            self._pending.add(request)
        # A navigation request after the document arrived, not a hop of a redirect: a script (or a
        # meta refresh) is taking the page elsewhere. Also seen when the target never answers.
        if self.document_url is not None and self.navigated_to is None and request.redirected_from is None:
            if self._main_document(request):
                self.navigated_to = request.url

    def _on_response(self, response: PlaywrightResponse) -> None:
        request = response.request
        if self.document_url is None and self._main_document(request):
            if 300 <= response.status < 400 and "location" in response.headers:
                return  # a hop of the HTTP redirect chain
            chain = []
            hop = request.redirected_from
            while hop is not None:
                chain.append(hop.url)
                hop = hop.redirected_from
            self.document_url, self.redirect_chain = response.url, tuple(reversed(chain))
            self.document_status, self.document_headers = response.status, dict(response.headers)

    def _on_failed(self, request: PlaywrightRequest) -> None:
        self._pending.discard(request)

    def _on_finished(self, request: PlaywrightRequest) -> None:
        self._pending.discard(request)
        # Read the server's HTML as soon as it is complete: a page that later loops, crashes its
        # tab or navigates away can no longer hand it over.
        if self.want_raw and self._body is None and self.document_url == request.url and self._main_document(request):
            self._body = asyncio.ensure_future(self._read_body(request))

    async def _read_body(self, request: PlaywrightRequest) -> None:
        try:
            response = await asyncio.wait_for(request.response(), RAW_BODY_SECONDS)
            if response is not None:
                # Set here, as soon as it is read: a render that fails later still has it.
                self.raw_body = await asyncio.wait_for(response.body(), RAW_BODY_SECONDS)
        except Exception:  # noqa: BLE001 - evicted, not a body (204), or the tab is gone: raw unknown
            return

    async def keep_raw(self) -> bytes | None:
        """The server's HTML of this visit, if the browser handed it over (run on Playwright's loop)."""
        if self._body is not None:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._body), RAW_BODY_SECONDS)
        return self.raw_body

    def _forget(self, page: Page) -> None:
        for event, listener in (("request", self._on_request), ("response", self._on_response),
                                ("requestfinished", self._on_finished), ("requestfailed", self._on_failed)):
            with suppress(Exception):
                page.remove_listener(event, listener)

    async def inspect(self, page: Page) -> dict[str, Any]:
        """Called once the DOM is there (DOMContentLoaded, not the load event: what is still
        loading then, images, stylesheets, frames, slow trackers, cannot add a link to the
        document, and a page's scripts get the probe's wait to do so); raises on a stuck page so
        it is closed. Leaves the page without this probe's listeners: it may go on to another render."""
        try:
            return await self._inspect(page)
        finally:
            await self.keep_raw()
            self._forget(page)

    async def _inspect(self, page: Page) -> dict[str, Any]:
        try:
            result = await self._look(page, self.wait_ms)
            if not result["found"] and self._pending:
                await self._settle(self.wait_ms / 1000)
                result = await self._look(page, 0)
        except PlaywrightError as exc:
            if self.navigated_to is None:
                raise
            # A script navigation destroyed the document under the probe: the page is judged on
            # its own HTML (see left_page), not as a failed render.
            return {"found": False, "hidden": 0, "waited": 0, "error": exc.message}
        self.found, self.hidden, self.waited_ms = bool(result["found"]), int(result["hidden"]), int(result["waited"])
        return result

    async def _look(self, page: Page, wait_ms: int) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(  # type: ignore[no-any-return]
                page.evaluate(INSPECT_SCRIPT, {"hosts": list(self.hosts), "waitMs": wait_ms, "attr": HIDDEN_ATTR}),
                timeout=wait_ms / 1000 + SCRIPT_GRACE_SECONDS,
            )
        except TimeoutError:
            raise RenderStuck(f"the page did not answer within {wait_ms / 1000 + SCRIPT_GRACE_SECONDS:.0f} s") from None

    async def _settle(self, seconds: float) -> None:
        """Wait until no script or data request is in flight, for at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def left_page(self, final_url: str, own: Sequence[str] = ()) -> str | None:
        """Where the browser ended instead of the requested page, or None if it is the page.

        The page is the document the navigation loaded: its URL, its redirect chain, or ``own``
        (the URL requested and the redirect chain a static fetch saw). Another URL after a new
        document was requested is a script's navigation; a URL changed by the history API
        (``pushState``) is the same document. Chromium's error page is never the page.
        """
        if final_url.startswith("chrome-error:"):
            return final_url
        urls = {_bare(url) for url in (*own, *self.redirect_chain, self.document_url or "")}
        if _bare(final_url) in urls or self.navigated_to is None:
            return None
        return final_url

    @property
    def seconds(self) -> float | None:
        """How long the render took so far, from the first page init."""
        return None if self.started is None else time.monotonic() - self.started


def _bare(url: str) -> str:
    return urldefrag(url)[0].rstrip("/")


def target_hosts(target_urls: Sequence[str]) -> tuple[str, ...]:
    """The hosts a render waits for: lower-case, without "www." (a cheap over-approximation; the
    pure matcher decides)."""
    hosts = []
    for url in target_urls:
        host = host_key(url)
        if host and host not in hosts:
            hosts.append(host)
    return tuple(hosts)
