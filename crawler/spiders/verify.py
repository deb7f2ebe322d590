"""`scrapy crawl verify`: fetch every due referring page once and observe each backlink it carries.

Thin by design: the database supplies due pages (:mod:`pipelines.due`), :mod:`crawler.observe`
decides, and the storage pipeline writes. Nothing here knows what a "lost" link is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.args import VerifyArgs
from crawler.items import DuePage, Observation
from crawler.observe import Fetched, observe_failure, observe_page
from crawler.outcome import classify_failure
from pipelines.db import make_engine, make_sessionmaker
from pipelines.due import DueFilter, iter_due_pages

PAGE_META = "backlinks_page"


class VerifySpider(Spider):
    name = "verify"

    def __init__(self, *args: Any, **kwargs: Any):
        arguments = {name: kwargs.pop(name, None) for name in ("limit", "tag", "all", "only")}
        super().__init__(*args, **kwargs)
        self.arguments = VerifyArgs.parse(arguments)
        # What the run record shows: only what was asked for.
        self.run_arguments = self.arguments.model_dump(exclude_defaults=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.engine = make_engine(settings["BACKLINKS_DATABASE_URL"])
        spider.recheck = timedelta(hours=settings.getfloat("BACKLINKS_RECHECK_HOURS"))
        spider.chunk_size = settings.getint("BACKLINKS_START_CHUNK")
        spider.strip_tracking = settings.getbool("BACKLINKS_STRIP_TRACKING")
        return spider

    async def start(self) -> AsyncIterator[Request]:
        now = datetime.now(UTC)
        due = DueFilter(
            cutoff=now if self.arguments.all else now - self.recheck,
            tag=self.arguments.tag,
            only=self.arguments.only,
        )
        chunks = iter_due_pages(make_sessionmaker(self.engine), due, self.chunk_size)
        backlinks = 0
        # Each chunk is read on a worker thread: the database must not block the reactor.
        while chunk := await asyncio.to_thread(next, chunks, None):
            for page in chunk:
                yield self.page_request(page)
                backlinks += len(page.backlinks)
                if self.arguments.limit and backlinks >= self.arguments.limit:
                    return

    def page_request(self, page: DuePage) -> Request:
        self.crawler.stats.inc_value("backlinks/pages")
        return Request(
            page.url,
            callback=self.parse,
            errback=self.errback,
            dont_filter=True,
            meta={PAGE_META: page},
        )

    def parse(self, response: Response) -> Iterator[Observation]:
        page: DuePage = response.meta[PAGE_META]
        fetched = Fetched(
            url=page.url,
            final_url=response.url,
            http_status=response.status,
            headers={
                key.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
                for key, values in response.headers.items()
            },
            redirects=response.meta.get("redirect_urls", []),
            body=response.body,
            text=response.text if isinstance(response, TextResponse) else None,
        )
        yield from observe_page(
            page.backlinks, fetched, datetime.now(UTC), strip_tracking=self.strip_tracking
        )

    def errback(self, failure: Failure) -> Iterator[Observation]:
        page: DuePage = failure.request.meta[PAGE_META]  # type: ignore[attr-defined]
        status, reason = classify_failure(failure.value)
        self.crawler.stats.inc_value(f"backlinks/fetch_error/{status.value}")
        yield from observe_failure(page.backlinks, page.url, status, reason, datetime.now(UTC))

    def closed(self, reason: str) -> None:
        self.engine.dispose()
