"""The Scrapy item pipeline that stores observations: it buffers them and hands the run service
(:mod:`crawler.shell.runservice`) a batch at a time, each written in one transaction."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Self

from scrapy.crawler import Crawler
from sqlalchemy.exc import SQLAlchemyError

from crawler.core.items import Observation
from crawler.shell.runservice import RunService
from crawler.shell.config import BacklinksSettings

logger = logging.getLogger(__name__)


class StoragePipeline:
    def __init__(self, crawler: Crawler):
        ours = BacklinksSettings.from_crawler(crawler)
        self.crawler = crawler
        self.batch_size = ours.BACKLINKS_BATCH_SIZE
        self.batch_seconds = ours.BACKLINKS_BATCH_SECONDS
        self.buffer: list[Observation] = []
        self.last_flush = time.monotonic()
        self.timer: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def open_spider(self) -> None:
        self.service = RunService.of(self.crawler)
        self.timer = asyncio.create_task(self._flush_stale())

    async def _flush_stale(self) -> None:
        """Store what waits in the buffer even when no new item comes to push it out: a domain is
        only done once its observations are stored, and other processes may be waiting for it."""
        while True:
            await asyncio.sleep(self.batch_seconds)
            if time.monotonic() - self.last_flush >= self.batch_seconds:
                try:
                    # Shielded: close_spider cancels this timer, and a batch being written on its
                    # thread is committed anyway; it must also be counted and its domains settled.
                    await asyncio.shield(self.flush())
                except SQLAlchemyError:  # as a failed item would be: logged; its backlinks stay due
                    logger.exception("Could not store a batch of run %s", self.service.run_id)

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
        if batch:
            await self.service.store(batch)

    async def close_spider(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.service.closing()
        await self.flush()
