"""Immediate refreshes are redirects; delayed ones are not (:mod:`crawler.core.extract.refresh`).

Replaces Scrapy's MetaRefreshMiddleware, which followed every ``<meta http-equiv="refresh">`` of up
to ``METAREFRESH_MAXDELAY`` seconds (100 by default) at once, and never the ``Refresh`` header.
Setting that to 0 would not do: Scrapy follows a refresh only when its delay is *below* the
maximum, so 0 follows none, not even the immediate ones. What is followed goes through Scrapy's
redirect machinery (``REDIRECT_MAX_TIMES``, ``redirect_urls``), so a page reached by an immediate
refresh that lacks the link is ``page_redirected``, like a 301. Only 2xx pages are refreshed away
from; on an error page, its status decides.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import get_base_url

from crawler.core.extract.refresh import meta_refresh, refresh_target
from crawler.shell.upstream import RefreshRedirects


class RefreshMiddleware(RefreshRedirects):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        # Scrapy keeps this list in a private attribute; the setting is the public way to it.
        self.ignore_tags = settings.getlist("METAREFRESH_IGNORE_TAGS")

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if (
            request.meta.get("dont_redirect", False)
            or request.method == "HEAD"
            # The status of an error page decides: a 503 "back soon" page that refreshes to
            # /maintenance must stay an inconclusive 503, not become a redirected page.
            or not 200 <= response.status < 300
            or not isinstance(response, HtmlResponse)
            or urlparse_cached(request).scheme not in ("http", "https")
        ):
            return response
        header = response.headers.get("Refresh")
        meta = meta_refresh(response.text, self.ignore_tags)
        target = refresh_target(
            header.decode("latin-1") if header is not None else None,
            meta,
            page_url=response.url,
            base_url=get_base_url(response) if meta is not None else response.url,
        )
        if target is None:
            return response
        redirected = self.redirect_using_get(request, response, target)
        if urlparse_cached(redirected).scheme not in ("http", "https"):
            return response
        return self.counted_redirect(redirected, request, "refresh")
