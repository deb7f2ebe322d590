"""The Scrapy item pipeline that stores observations: a thin shell around :mod:`pipelines.batches`.

Observations are buffered and written in batches, each batch in one transaction on a worker
thread: SQLAlchemy blocks, and the reactor (shared with the browser) must not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from sqlalchemy.exc import SQLAlchemyError

from crawler.core.items import Observation
from crawler.shell.config import BacklinksSettings
from crawler.reports.tables import run_summary
from pipelines import batches, runs
from crawler.core.changes import Policy
from pipelines.db import make_engine, make_sessionmaker, require_schema

logger = logging.getLogger(__name__)


class StoragePipeline:
    def __init__(self, crawler: Crawler):
        ours = BacklinksSettings.from_crawler(crawler)
        self.crawler = crawler
        self.url = ours.BACKLINKS_DATABASE_URL
        self.batch_size = ours.BACKLINKS_BATCH_SIZE
        self.batch_seconds = ours.BACKLINKS_BATCH_SECONDS
        # Losses are held back until the run is over and known healthy (pipelines.runs.leave).
        self.policy = Policy(
            confirm_misses=ours.BACKLINKS_CONFIRM_MISSES,
            hold_losses=True,
            degraded_share=ours.BACKLINKS_DEGRADED_SHARE,
        )
        self.lease = timedelta(seconds=ours.BACKLINKS_LEASE_SECONDS)
        # A locked database (an import, another crawl) is waited out, never a reason to drop a batch.
        self.patience = batches.Patience(grace=ours.BACKLINKS_STORE_GRACE_SECONDS)
        self.buffer: list[Observation] = []
        self.last_flush = time.monotonic()
        self.tally = batches.RunTally()
        self.run_id: int | None = None
        self.ticket: runs.Ticket | None = None
        self.writing = asyncio.Lock()
        self.timers: list[asyncio.Task[None]] = []
        self.engine = make_engine(self.url)
        self.sessions = make_sessionmaker(self.engine)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def open_spider(self) -> None:
        await asyncio.to_thread(require_schema, self.engine)
        spider = self.crawler.spider
        now = datetime.now(UTC)
        order: runs.WorkOrder = spider.work_order(now)  # type: ignore[union-attr]
        self.ticket = await asyncio.to_thread(
            self.patience.attempt, partial(runs.join_run, self.sessions, order, now, lease=self.lease), "the run record"
        )
        # The spider claims the run's referring domains under this ticket; batches tally to its row.
        spider.ticket = self.ticket  # type: ignore[union-attr]
        self.tally.worker_id = self.ticket.worker_id
        self.run_id = self.ticket.run_id
        self.timers = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._flush_stale())]
        self.crawler.stats.set_value("backlinks/run_id", self.run_id)
        logger.info(
            "Run %s%s started: %s", self.run_id, f" ({order.key})" if order.key else "",
            order.arguments or "all due backlinks",
        )

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
                    logger.exception("Could not store a batch of run %s", self.run_id)

    async def _heartbeat(self) -> None:
        """Keep this process's domain leases alive while it works on them (a few times per lease)."""
        assert self.ticket is not None
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                await asyncio.to_thread(runs.heartbeat, self.sessions, self.ticket, self.lease, datetime.now(UTC))
            except SQLAlchemyError:  # a database hiccup: the next beat tries again, well within the lease
                logger.warning("Could not extend the domain leases of run %s", self.run_id, exc_info=True)

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
        # One batch at a time: each saves the tally as of the batches before it. Waiting here (a
        # locked database) holds back the items behind it, so the crawl slows instead of piling up.
        async with self.writing:
            stored = await asyncio.to_thread(
                batches.store_batch, self.sessions, self.run_id, batch, self.policy, self.tally, self.patience
            )
            assert self.ticket is not None  # joined in open_spider, before any item
            settle = partial(runs.settle, self.sessions, self.ticket, datetime.now(UTC))
            await asyncio.to_thread(self.patience.attempt, settle, "the run's finished domains")
        stats = self.crawler.stats
        results = stored.results
        stats.inc_value("backlinks/stored", len(results) - len(stored.failed))
        stats.inc_value("backlinks/batches")
        if stored.failed or stored.lost:
            # Observations not stored as observed: the exit status and the run summary report them.
            stats.inc_value("backlinks/store/failed_rows", len(stored.failed) + len(stored.lost))
        if stored.lost:
            stats.inc_value("backlinks/store/lost_rows", len(stored.lost))
        for _obs, state, changes in results:
            stats.inc_value(f"backlinks/status/{state.status.value}")
            for change in changes:
                stats.inc_value(f"backlinks/event/{change.kind.value}")

    async def close_spider(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.patience.closing()  # from now on a locked database is waited out for a bounded time
        await self.flush()

    async def spider_closed(self, reason: str) -> None:
        # The finish reason is only known here, after the pipelines have closed (and flushed).
        if self.ticket is None:
            return
        self.tally.errors = self.crawler.stats.get_value("log_count/ERROR", 0)
        leave = partial(
            runs.leave, self.sessions, self.ticket, datetime.now(UTC), reason, self.tally, self.policy, self.lease
        )
        departure = await asyncio.to_thread(self.patience.attempt, leave, "the end of the run")
        stats = self.crawler.stats
        stats.set_value("backlinks/run_status", departure.status)
        if not departure.last:
            logger.info("Run %s: this process is done (%s); others are still at work", self.run_id, reason)
        else:
            stats.set_value("backlinks/losses_confirmed", departure.confirmed_losses)
            if departure.degraded:
                stats.set_value("backlinks/run_degraded", 1)
                logger.warning(
                    "Run %s is degraded: more than %.0f%% of its results are inconclusive (outage? blocked?). "
                    "It moved no backlink to lost; %d losses are held back until a healthy run sees them again.",
                    self.run_id, self.policy.degraded_share * 100, departure.held_back,
                )
            summary = await asyncio.to_thread(run_summary, self.sessions, self.run_id)
            logger.info("Run %s %s (%s)\n%s", self.run_id, departure.status, reason, summary)
        self.engine.dispose()
