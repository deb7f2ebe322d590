"""The Scrapy item pipeline that stores observations: a thin shell around :mod:`pipelines.store`.

Observations are buffered and written in batches, each batch in one transaction on a worker
thread: SQLAlchemy blocks, and the reactor (shared with the browser) must not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.items import Observation
from crawler.report import run_summary
from pipelines import store
from pipelines.changes import Policy
from pipelines.db import make_engine, make_sessionmaker, require_schema

logger = logging.getLogger(__name__)


class StoragePipeline:
    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.url: str = settings["BACKLINKS_DATABASE_URL"]
        if not self.url:
            raise NotConfigured("BACKLINKS_DATABASE_URL is empty")
        self.batch_size = settings.getint("BACKLINKS_BATCH_SIZE")
        self.batch_seconds = settings.getfloat("BACKLINKS_BATCH_SECONDS")
        self.policy = Policy(confirm_misses=settings.getint("BACKLINKS_CONFIRM_MISSES"))
        self.buffer: list[Observation] = []
        self.last_flush = time.monotonic()
        self.tally = store.RunTally()
        self.run_id: int | None = None
        self.engine = make_engine(self.url)
        self.sessions = make_sessionmaker(self.engine)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def open_spider(self) -> None:
        await asyncio.to_thread(require_schema, self.engine)
        spider = self.crawler.spider
        arguments: dict[str, Any] = getattr(spider, "run_arguments", {})
        self.run_id = await asyncio.to_thread(
            store.open_run, self.sessions, datetime.now(UTC), arguments
        )
        self.crawler.stats.set_value("backlinks/run_id", self.run_id)
        logger.info("Run %s started: %s", self.run_id, arguments or "all due backlinks")

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, Observation):
            self.buffer.append(item)
            stale = time.monotonic() - self.last_flush >= self.batch_seconds
            if len(self.buffer) >= self.batch_size or stale:
                await self.flush()
        return item

    async def flush(self) -> None:
        batch, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        if not batch:
            return
        results = await asyncio.to_thread(
            store.write_batch, self.sessions, self.run_id, batch, self.policy, self.tally
        )
        stats = self.crawler.stats
        stats.inc_value("backlinks/stored", len(results))
        stats.inc_value("backlinks/batches")
        for _obs, state, changes in results:
            stats.inc_value(f"backlinks/status/{state.status.value}")
            for change in changes:
                stats.inc_value(f"backlinks/event/{change.kind.value}")

    async def close_spider(self) -> None:
        await self.flush()

    async def spider_closed(self, reason: str) -> None:
        # The finish reason is only known here, after the pipelines have closed.
        if self.run_id is None:
            return
        await asyncio.to_thread(
            store.close_run, self.sessions, self.run_id, datetime.now(UTC), reason, self.tally
        )
        summary = await asyncio.to_thread(run_summary, self.sessions, self.run_id)
        logger.info("Run %s finished (%s)\n%s", self.run_id, reason, summary)
        self.engine.dispose()
