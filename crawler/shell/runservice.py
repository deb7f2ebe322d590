"""The run service: the one part of a crawl process that talks to the database.

A Scrapy extension, built once per crawl with ``from_crawler``; it owns the process's one engine.
The spider joins the run through it when it opens (:meth:`RunService.join`) and asks it for due
pages (:meth:`RunService.due_pages`); the storage pipeline hands it batches (:meth:`RunService.store`);
when the spider closes it leaves the run and logs the run's summary. Neither the spider nor the
pipeline knows the other: each only knows this service. The database work itself is
:mod:`pipelines.runs` and :mod:`pipelines.batches`, run on worker threads: SQLAlchemy blocks, and
the reactor (shared with the browser) must not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from sqlalchemy.exc import SQLAlchemyError

from crawler.core.changes import ChangePolicy
from crawler.core.items import DuePage, Observation
from crawler.core.render_policy import RenderMemory
from crawler.core.targets import TargetCheck
from crawler.core.snapshots import expired_before
from crawler.reports import notify
from crawler.reports.tables import run_summary
from crawler.shell.config import BacklinksSettings
from pipelines import batches, runs, targets
from pipelines.db import make_engine, make_sessionmaker, require_schema
from pipelines.due import iter_due_pages
from pipelines.snapshots import prune_snapshots

logger = logging.getLogger(__name__)
TARGET_BATCH = 100  # target checks written in one transaction

# The finish reason of a crawl whose process could not join its run (the crawl command exits 2).
NOT_JOINED = "run_not_joined"
NOTIFY_FAILED = "backlinks/notify/failed"  # stats: alert messages not delivered (the crawl command exits 6)


class RunService:
    def __init__(self, crawler: Crawler):
        ours = BacklinksSettings.from_crawler(crawler)
        self.crawler = crawler
        self.engine = make_engine(ours.BACKLINKS_DATABASE_URL)
        self.sessions = make_sessionmaker(self.engine)
        # Losses are held back until the run is over and known healthy (pipelines.runs.leave).
        self.policy = ChangePolicy(
            confirm_misses=ours.BACKLINKS_CONFIRM_MISSES,
            hold_losses=True,
            degraded_share=ours.BACKLINKS_DEGRADED_SHARE,
        )
        self.lease = timedelta(seconds=ours.BACKLINKS_LEASE_SECONDS)
        self.claim_size = ours.BACKLINKS_CLAIM_DOMAINS
        self.claim_poll = ours.BACKLINKS_CLAIM_POLL_SECONDS
        self.chunk_size = ours.BACKLINKS_START_CHUNK
        # A locked database (an import, another crawl) is waited out, never a reason to drop a batch.
        self.patience = batches.Patience(grace=ours.BACKLINKS_STORE_GRACE_SECONDS)
        self.tally = batches.RunTally()
        self.ticket: runs.Ticket | None = None
        # Why this process could not join its run; the crawl command prints it as its one line.
        self.join_error: Exception | None = None
        self.writing = asyncio.Lock()
        self.heartbeat: asyncio.Task[None] | None = None
        self.alerts = ours.notify_config()
        self.target_checks: list[TargetCheck] = []  # judged, not yet stored (store_target)
        self.snapshot_days = ours.BACKLINKS_SNAPSHOT_DAYS

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        service = cls(crawler)
        crawler.signals.connect(service.spider_closed, signal=signals.spider_closed)
        return service

    @classmethod
    def of(cls, crawler: Crawler) -> RunService:
        """The crawl's run service (``EXTENSIONS`` must list it: settings/__init__.py does)."""
        service = crawler.get_extension(cls)
        if service is None:
            raise RuntimeError(f"EXTENSIONS must include {cls.__module__}.{cls.__qualname__}")
        return service

    @property
    def run_id(self) -> int | None:
        return None if self.ticket is None else self.ticket.run_id

    async def join(self, order: runs.WorkOrder) -> None:
        """Join (or create) the run ``order`` asks for; on failure, close the spider before it starts
        (the crawl command reports :attr:`join_error` in one line and exits 2)."""
        now = datetime.now(UTC)
        try:
            await asyncio.to_thread(require_schema, self.engine)
            self.ticket = await asyncio.to_thread(
                self.patience.attempt, partial(runs.join_run, self.sessions, order, now, lease=self.lease), "the run record"
            )
        except Exception as exc:
            self.join_error = exc
            logger.error("Could not join the run: %s", exc)
            raise CloseSpider(NOT_JOINED) from exc
        self.tally.worker_id = self.ticket.worker_id
        self.heartbeat = asyncio.create_task(self._heartbeat())
        self.crawler.stats.set_value("backlinks/run_id", self.ticket.run_id)
        logger.info(
            "Run %s%s started: %s", self.ticket.run_id, f" ({order.key})" if order.key else "",
            order.arguments or "all due backlinks",
        )

    async def render_memory(self, since: datetime) -> RenderMemory:
        """What earlier runs since ``since`` learnt about pages and domains that need the browser."""
        return await asyncio.to_thread(batches.load_render_memory, self.sessions, since)

    async def due_pages(self) -> AsyncIterator[DuePage]:
        """The due pages of this process's share of the run, a few claimed referring domains at a time.

        When every domain left is held by other processes, wait: one of them may die, and its
        domains are claimed again when its lease runs out. Each chunk is read on a worker thread.
        """
        ticket = self._joined()
        while True:
            domains = await asyncio.to_thread(
                runs.claim, self.sessions, ticket, self.claim_size, self.lease, datetime.now(UTC)
            )
            if domains:
                self.crawler.stats.inc_value("backlinks/domains_claimed", len(domains))
                due = ticket.due.model_copy(update={"domains": tuple(domains)})
                chunks = iter_due_pages(self.sessions, due, self.chunk_size)
                while chunk := await asyncio.to_thread(next, chunks, None):
                    for page in chunk:
                        if ticket.shard is None or ticket.shard.holds(page.domain):
                            yield page
            elif await asyncio.to_thread(runs.others_pending, self.sessions, ticket):
                await asyncio.sleep(self.claim_poll)
            else:
                return

    async def store(self, batch: list[Observation]) -> None:
        """Write ``batch`` in one transaction and settle the domains it finished; counted in the stats."""
        ticket = self._joined()
        # One batch at a time: each saves the tally as of the batches before it. Waiting here (a
        # locked database) holds back the items behind it, so the crawl slows instead of piling up.
        async with self.writing:
            stored = await asyncio.to_thread(
                batches.store_batch, self.sessions, ticket.run_id, batch, self.policy, self.tally, self.patience
            )
            settle = partial(runs.settle, self.sessions, ticket, datetime.now(UTC))
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
        for obs, state, changes in results:
            stats.inc_value(f"backlinks/status/{state.status.value}")
            if changes and obs.page_body is not None:
                stats.inc_value("backlinks/snapshots/kept")
            for change in changes:
                stats.inc_value(f"backlinks/event/{change.kind.value}")

    async def claim_targets(self, urls: list[str]) -> list[str]:
        """Those of the own pages ``urls`` that this process is to check (each once per run)."""
        ticket = self._joined()
        claim = partial(targets.claim_targets, self.sessions, ticket.run_id, urls, datetime.now(UTC))
        return await asyncio.to_thread(self.patience.attempt, claim, "the run's target claims")

    async def store_target(self, check: TargetCheck) -> None:
        """Keep ``check`` for the next write of target checks: a site's many targets, failing at once
        (its robots.txt unreachable, say), would otherwise be as many transactions."""
        self.target_checks.append(check)
        self.crawler.stats.inc_value(f"backlinks/targets/verdict/{check.verdict.value}")
        if len(self.target_checks) >= TARGET_BATCH:
            await self.flush_targets()

    async def flush_targets(self) -> None:
        """Write the kept target checks in one transaction; a failure is counted as results not stored."""
        checks, self.target_checks = self.target_checks, []
        if not checks:
            return
        store = partial(targets.store_targets, self.sessions, self._joined().run_id, checks)
        try:
            async with self.writing:
                await asyncio.to_thread(self.patience.attempt, store, "the target checks")
        except SQLAlchemyError:
            logger.exception("Could not store %d target checks of run %s", len(checks), self.run_id)
            self.crawler.stats.inc_value("backlinks/store/failed_rows", len(checks))

    def closing(self) -> None:
        """The crawl is closing: from now on a locked database is waited out for a bounded time."""
        self.patience.closing()

    def _joined(self) -> runs.Ticket:
        if self.ticket is None:
            raise RuntimeError("the run service has not joined a run (the spider joins it when it opens)")
        return self.ticket

    async def _heartbeat(self) -> None:
        """Keep this process's domain leases alive while it works on them (a few times per lease)."""
        ticket = self._joined()
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                await asyncio.to_thread(runs.heartbeat, self.sessions, ticket, self.lease, datetime.now(UTC))
            except SQLAlchemyError:  # a database hiccup: the next beat tries again, well within the lease
                logger.warning("Could not extend the domain leases of run %s", ticket.run_id, exc_info=True)

    async def spider_closed(self, reason: str) -> None:
        # The finish reason is only known here, after the pipelines have closed (and flushed).
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        try:
            if self.ticket is not None:
                await self.flush_targets()
                await self._leave(self.ticket, reason)
        finally:
            self.engine.dispose()

    async def _leave(self, ticket: runs.Ticket, reason: str) -> None:
        self.tally.errors = self.crawler.stats.get_value("log_count/ERROR", 0)
        leave = partial(
            runs.leave, self.sessions, ticket, datetime.now(UTC), reason, self.tally, self.policy, self.lease
        )
        departure = await asyncio.to_thread(self.patience.attempt, leave, "the end of the run")
        stats = self.crawler.stats
        stats.set_value("backlinks/run_status", departure.status.value)  # a plain string in the stats dump
        if not departure.last:
            logger.info("Run %s: this process is done (%s); others are still at work", ticket.run_id, reason)
            return
        stats.set_value("backlinks/losses_confirmed", departure.confirmed_losses)
        await self._prune_snapshots()
        if departure.degraded:
            stats.set_value("backlinks/run_degraded", 1)
            logger.warning(
                "Run %s is degraded: more than %.0f%% of its results are inconclusive (outage? blocked?). "
                "It moved no backlink to lost; %d losses are held back until a healthy run sees them again.",
                ticket.run_id, self.policy.degraded_share * 100, departure.held_back,
            )
        if self.alerts.enabled:
            await self._notify(ticket.run_id)
        summary = await asyncio.to_thread(run_summary, self.sessions, ticket.run_id)
        logger.info("Run %s %s (%s)\n%s", ticket.run_id, departure.status, reason, summary)

    async def _prune_snapshots(self) -> None:
        """Delete the snapshots past their retention, whether snapshots are on or not: turning them
        off must not keep the old ones for ever. After the run is closed: a failure here loses nothing."""
        before = expired_before(datetime.now(UTC), self.snapshot_days)
        try:
            pruned = await asyncio.to_thread(self.patience.attempt, partial(prune_snapshots, self.sessions, before), "the snapshots' pruning")
        except SQLAlchemyError as exc:  # the next run prunes them
            logger.warning("Could not delete the snapshots older than %s: %s", before, exc)
            return
        self.crawler.stats.set_value("backlinks/snapshots/pruned", pruned)
        if pruned:
            logger.info("Deleted %d snapshots older than %d days", pruned, self.snapshot_days)

    async def _notify(self, run_id: int) -> None:
        """Send the run's alerts (and what earlier runs failed to send): after the run is closed, so
        a failure here can neither lose a result nor change a verdict; one WARNING line each, counted
        for the exit status, recorded for the next run to try again."""
        stats = self.crawler.stats
        try:
            outcomes = await asyncio.to_thread(notify.deliver, self.sessions, self.alerts, now=datetime.now(UTC), upto=run_id)
        except Exception as exc:  # the database, most likely: the subjects stay due
            stats.inc_value(NOTIFY_FAILED)
            logger.warning("Run %s: notifications not sent (%s: %s); `backlinks notify` tries again",
                           run_id, type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "")
            return
        for outcome in outcomes:
            if outcome.ok:
                stats.inc_value("backlinks/notify/sent")
                logger.info("Run %s: %s: run %s, %d changes sent", run_id, outcome.channel.label, outcome.run_id, outcome.events)
            else:
                stats.inc_value(NOTIFY_FAILED)
                logger.warning(
                    "Run %s: %s: run %s's %d changes not delivered (%s); the next run or `backlinks notify --run %s` "
                    "tries again", run_id, outcome.channel.label, outcome.run_id, outcome.events, outcome.error, outcome.run_id,
                )


def preflight_run(database_url: str, key: str | None, arguments: dict[str, Any]) -> None:
    """Raise what would keep a process from joining its run, before the crawl starts: a database
    that is unreachable or at an old schema, a run key in use with other arguments."""
    engine = make_engine(database_url)
    try:
        require_schema(engine)
        runs.check_joinable(make_sessionmaker(engine), key, arguments)
    finally:
        engine.dispose()
