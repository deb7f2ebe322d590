"""`scrapy crawl verify`: fetch every due referring page once and observe each backlink it carries.

Thin by design: the run service (:mod:`crawler.shell.runservice`) joins the run and hands out due
pages, :mod:`crawler.core.observe` decides, and the storage pipeline writes. Nothing here knows what a
"lost" link is, or the database.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.http import HtmlResponse, Response
from twisted.python.failure import Failure

from crawler.shell.args import VerifyArgs
from crawler.shell.config import check_settings
from crawler.core.items import DuePage, Observation
from crawler.core.mentions import Brands, parse_tag_terms, parse_terms
from crawler.core.extract.page import first_header
from crawler.core.observe import Fetched, merge_failed_render, merge_rendered, observe_failure, observe_page
from crawler.core.outcome import FoundIn, Status
from crawler.core.targets import parse_own_pages
from crawler.core.snapshots import keep_body
from crawler.shell.failures import classify_failure
from crawler.shell.pagepool import Interrupted, OverBudget, PagePool, read_static
from crawler.shell.render.browser import classify_render_failure
from crawler.shell.render.handler import REUSE_META
from crawler.core.render_policy import (
    RenderMemory,
    RenderMode,
    RenderReason,
    render_first,
    runs_scripts,
)
from crawler.shell.render.probe import PROBE_META, RenderProbe, target_hosts
from crawler.shell.render.setup import RENDER_SLOT, plan_rendering
from crawler.shell import targetcheck
from crawler.shell.responses import as_fetched
from crawler.shell.runservice import RunService, preflight_run
from crawler.shell.targetcheck import TargetChecks
from pipelines.due import DueFilter
from pipelines.runs import Shard, WorkOrder

PAGE_META = "backlinks_page"
RENDER_META = "backlinks_render"  # (reason, the static observations or None)
# A static fetch after a render that failed or left the page, when no static view was known:
# (status, reason, script_redirect) of the render.
AFTER_RENDER_META = "backlinks_after_render"

logger = logging.getLogger(__name__)


class VerifySpider(Spider):
    name = "verify"

    def __init__(self, *args: Any, **kwargs: Any):
        # Every -a argument is ours and validated, so a typo fails fast instead of being ignored;
        # "_"-names are Scrapyd's (_job) and Scrapy's own.
        arguments = {name: kwargs.pop(name) for name in list(kwargs) if not name.startswith("_")}
        super().__init__(*args, **kwargs)
        self.arguments = VerifyArgs.parse(arguments)
        self.run_arguments = _run_arguments(self.arguments)
        shards = self.arguments.shards
        self.shard = Shard(self.arguments.shard, shards) if shards and self.arguments.shard is not None else None

    @classmethod
    def preflight(cls, settings: BaseSettings, arguments: dict[str, Any]) -> None:
        """Raise the first error that would stop the crawl at start-up, before Scrapy starts it
        (crawler.cli.commands.crawl prints it as one line): a bad setting or -a argument, a database
        that is unreachable or at an old schema, a run key in use with other arguments."""
        ours = check_settings(settings)
        parsed = VerifyArgs.parse({k: v for k, v in arguments.items() if not k.startswith("_")})
        preflight_run(ours.BACKLINKS_DATABASE_URL, parsed.run, _run_arguments(parsed))

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        ours = check_settings(crawler.settings)  # before anything reads them: one message naming each fix
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.recheck = timedelta(hours=ours.BACKLINKS_RECHECK_HOURS)
        spider.strip_tracking = ours.BACKLINKS_STRIP_TRACKING
        spider.brands = Brands.of(parse_terms(ours.BACKLINKS_BRAND_TERMS), parse_tag_terms(ours.BACKLINKS_BRAND_TERMS_BY_TAG))
        # None: snapshots off, and no body is kept beyond its callback.
        spider.snapshot_bytes = ours.BACKLINKS_SNAPSHOT_MAX_KB * 1024 if ours.BACKLINKS_SNAPSHOTS else None
        # The one decision that needs the `render` argument; the add-on wires the crawl for it.
        plan = plan_rendering(crawler, spider.arguments.render)
        spider.render_mode, spider.render_unavailable = plan.mode, plan.unavailable
        if spider.render_unavailable:  # the run record shows what rendering fell back to
            spider.run_arguments = {**spider.run_arguments, "render": spider.render_mode.value}
        spider.render_wait_ms = int(ours.BACKLINKS_RENDER_WAIT * 1000)
        spider.confirm_by_render = ours.BACKLINKS_RENDER_CONFIRM_MISSES
        spider.memory_days = ours.BACKLINKS_RENDER_MEMORY_DAYS
        spider.render_memory = RenderMemory()
        spider.render_seconds = []
        spider.pages = PagePool(ours.BACKLINKS_PARSE_WORKERS, ours.BACKLINKS_PARSE_SECONDS)
        spider.own_pages = parse_own_pages(ours.BACKLINKS_OWN_PAGES)
        spider.check_targets = ours.BACKLINKS_TARGET_CHECKS
        crawler.signals.connect(spider.spider_opened, signal=signals.spider_opened)
        return spider

    def work_order(self, now: datetime) -> WorkOrder:
        """What this process asks of the run it joins."""
        args = self.arguments
        due = DueFilter(cutoff=now if args.all else now - self.recheck, tag=args.tag, only=args.only, with_tags=self.brands.tags)
        return WorkOrder(due=due, arguments=self.run_arguments, key=args.run, shard=self.shard)

    async def spider_opened(self) -> None:
        # Joined before start() runs: a process that cannot join its run crawls nothing.
        self.run = RunService.of(self.crawler)
        await self.run.join(self.work_order(datetime.now(UTC)))

    async def start(self) -> AsyncIterator[Request]:
        self.pages.start()
        now = datetime.now(UTC)
        if self.render_unavailable:
            self.crawler.stats.set_value("backlinks/render/unavailable", 1)
        if self.render_mode is RenderMode.AUTO:
            # Read once: what earlier runs learnt about pages and domains that need the browser.
            self.render_memory = await self.run.render_memory(now - timedelta(days=self.memory_days))
            self.crawler.stats.set_value("backlinks/render/memory_pages", len(self.render_memory.pages))
            self.crawler.stats.set_value("backlinks/render/memory_domains", len(self.render_memory.domains))
            logger.info(
                "Render memory: %d pages and %d domains go straight to the browser (a domain only once "
                "most of its checked pages needed it)", len(self.render_memory.pages), len(self.render_memory.domains)
            )
        targets = TargetChecks(self.run, self.own_pages, self.check_targets, self.parse_target, self.target_errback)
        backlinks = 0
        async for page in self.run.due_pages():
            yield self.page_request(page)
            targets.note(page)
            for request in await targets.requests():
                yield request
            backlinks += len(page.backlinks)
            if self.arguments.limit and backlinks >= self.arguments.limit:
                break
        for request in await targets.requests(final=True):
            yield request

    def page_request(self, page: DuePage) -> Request:
        self.crawler.stats.inc_value("backlinks/pages")
        reason = render_first(self.render_mode, self.render_memory, page.key, page.domain)
        if reason is not None:
            return self.render_request(page, reason, None)
        return Request(
            page.url,
            callback=self.parse,
            errback=self.errback,
            dont_filter=True,
            meta={PAGE_META: page},
        )

    def render_request(
        self, page: DuePage, reason: RenderReason, static: list[Observation] | None
    ) -> Request:
        """A browser request for ``page``; ``static``: what its static HTML showed, if fetched."""
        stats = self.crawler.stats
        stats.inc_value("backlinks/render/requests")
        stats.inc_value(f"backlinks/render/reason/{reason.value}")
        probe = RenderProbe(
            target_hosts([b.target_url for b in page.backlinks]), self.render_wait_ms, want_raw=static is None
        )
        return Request(
            page.url,
            callback=self.parse_rendered,
            errback=self.render_errback,
            dont_filter=True,
            meta={
                PAGE_META: page,
                RENDER_META: (reason, static),
                PROBE_META: probe,
                "playwright": True,
                "playwright_page_init_callback": probe.on_page,
                # The probe runs once the DOM is there (crawler.shell.render.handler): the load event
                # waits for every sub-resource, and one slow third-party host delays it for good.
                "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
                REUSE_META: True,
                "download_slot": RENDER_SLOT,
                # Playwright retries a crashed browser itself; a render is not worth a second try.
                "dont_retry": True,
            },
        )

    async def parse(self, response: Response) -> AsyncIterator[Observation | Request]:
        page: DuePage = response.meta[PAGE_META]
        fetched = as_fetched(page.url, response)
        now = datetime.now(UTC)
        try:
            observations, reason = await self.pages.run(
                read_static, page.backlinks, fetched, now, strip_tracking=self.strip_tracking,
                auto_render=self.render_mode is RenderMode.AUTO, confirm_by_render=self.confirm_by_render,
                brands=self.brands,
            )
        except OverBudget as exc:
            observations, reason = self._over_budget(page, exc, now), None
        except Interrupted:
            self._interrupted(page)
            return
        self._keep_body(observations, fetched)  # a render that fails or leaves the page leaves these
        if reason is not None:
            yield self.render_request(page, reason, observations)
            return
        for observation in observations:
            yield observation

    def _over_budget(self, page: DuePage, exc: OverBudget, at: datetime) -> list[Observation]:
        self.crawler.stats.inc_value(f"backlinks/parse/{exc.reason}")
        logger.warning("Could not read %s within its budget (%s)", page.url, exc.reason)
        return observe_failure(page.backlinks, page.url, Status.TOO_LARGE, exc.reason, at)

    def _interrupted(self, page: DuePage) -> None:
        self.crawler.stats.inc_value("backlinks/parse/interrupted")
        logger.info("Reading %s was interrupted: the crawl is stopping; its backlinks stay due", page.url)

    async def parse_rendered(self, response: Response) -> AsyncIterator[Observation | Request]:
        page: DuePage = response.meta[PAGE_META]
        _reason, static = response.meta[RENDER_META]
        probe: RenderProbe = response.meta[PROBE_META]
        self._timed(probe)
        now = datetime.now(UTC)
        stats = self.crawler.stats
        left = probe.left_page(response.url, _own_urls(page, static, response.meta.get("redirect_urls", [])))
        if left is not None:
            # Not the page any more (a script redirect, a consent wall, Chromium's error page): its
            # DOM says nothing about the page's links, so the page is judged on its own HTML.
            stats.inc_value("backlinks/render/left_page")
            logger.info("Render of %s ended on %s: judged on its static HTML", page.url, left)
            async for observation in self._without_render(page, static, probe, Status.NETWORK_ERROR, "render_left_page", left):
                yield observation
            return
        fetched = as_fetched(page.url, response)
        try:
            rendered = await self.pages.run(
                observe_page, page.backlinks, fetched, now, strip_tracking=self.strip_tracking,
                rendered=True, brands=self.brands,
            )
            raw, raw_page = static, _raw_page(page, probe)
            if raw is None and raw_page is not None:
                raw = await self.pages.run(
                    observe_page, page.backlinks, raw_page, now, strip_tracking=self.strip_tracking, brands=self.brands
                )
        except OverBudget as exc:
            unread = self._over_budget(page, exc, now)
            for observation in merge_failed_render(static, Status.TOO_LARGE, exc.reason, now) if static else unread:
                yield observation
            return
        except Interrupted:
            self._interrupted(page)
            return
        observations = merge_rendered(raw, rendered)
        self._keep_body(observations, fetched)  # the rendered DOM: what the browser judged
        stats.inc_value("backlinks/render/pages")
        if any(obs.found_in is FoundIn.RENDERED for obs in observations):
            stats.inc_value("backlinks/render/found_only_rendered")
        for observation in observations:
            yield observation

    async def render_errback(self, failure: Failure) -> AsyncIterator[Observation | Request]:
        request = failure.request  # type: ignore[attr-defined]
        page: DuePage = request.meta[PAGE_META]
        _reason, static = request.meta[RENDER_META]
        probe: RenderProbe = request.meta[PROBE_META]
        self._timed(probe)
        status, reason = classify_render_failure(failure.value)
        self.crawler.stats.inc_value(f"backlinks/render/failed/{status.value}")
        logger.info("Render of %s failed (%s: %s)", page.url, status.value, reason)
        async for observation in self._without_render(page, static, probe, status, reason, None):
            yield observation

    async def _without_render(
        self, page: DuePage, static: list[Observation] | None, probe: RenderProbe,
        status: Status, reason: str, left: str | None,
    ) -> AsyncIterator[Observation | Request]:
        """The render failed or left the page: the static view stands (crawler.core.observe.merge_failed_render).
        Without one from before the render or from the browser, the page is fetched statically."""
        now = datetime.now(UTC)
        if static is not None:  # rendered because the static HTML runs scripts and missed a link
            for observation in merge_failed_render(static, status, reason, now, scripted=True, script_redirect=left):
                yield observation
            return
        raw_page = _raw_page(page, probe)
        if raw_page is not None:
            raw = await self._observe_static(page, raw_page, now)
            self._keep_body(raw or [], raw_page)
            for observation in merge_failed_render(
                raw or [], status, reason, now, scripted=runs_scripts(raw_page.body), script_redirect=left
            ):
                yield observation
            return
        self.crawler.stats.inc_value("backlinks/render/static_fallback")
        yield Request(
            page.url,
            callback=self.parse_after_render,
            errback=self.errback,
            dont_filter=True,
            meta={PAGE_META: page, AFTER_RENDER_META: (status, reason, left)},
        )

    async def parse_after_render(self, response: Response) -> AsyncIterator[Observation]:
        page: DuePage = response.meta[PAGE_META]
        status, reason, left = response.meta[AFTER_RENDER_META]
        fetched = as_fetched(page.url, response)
        now = datetime.now(UTC)
        observations = await self._observe_static(page, fetched, now)
        self._keep_body(observations or [], fetched)
        scripted = fetched.text is not None and runs_scripts(fetched.body)
        for observation in merge_failed_render(observations or [], status, reason, now, scripted=scripted, script_redirect=left):
            yield observation

    async def _observe_static(self, page: DuePage, fetched: Fetched, now: datetime) -> list[Observation] | None:
        """The page's static HTML observed in the page pool: over its budget the page is
        ``too_large``; None when the crawl is stopping (its backlinks stay due)."""
        try:
            return await self.pages.run(observe_page, page.backlinks, fetched, now, strip_tracking=self.strip_tracking)
        except OverBudget as exc:
            return self._over_budget(page, exc, now)
        except Interrupted:
            self._interrupted(page)
            return None

    def _keep_body(self, observations: list[Observation], fetched: Fetched) -> None:
        """With snapshots on, the page's body (cut to the bound) goes along with its observations:
        the batch that stores them compresses it for the checks that changed (pipelines.snapshots)."""
        if self.snapshot_bytes is None or not observations:
            return
        body = keep_body(fetched.body, fetched.final_url, first_header(fetched.headers, "content-type"), self.snapshot_bytes)
        for observation in observations:
            observation.carry_body(body)

    def _timed(self, probe: RenderProbe) -> None:
        if (seconds := probe.seconds) is not None:
            self.render_seconds.append(seconds)

    def errback(self, failure: Failure) -> Iterator[Observation]:
        page: DuePage = failure.request.meta[PAGE_META]  # type: ignore[attr-defined]
        status, reason = classify_failure(failure.value)
        self.crawler.stats.inc_value(f"backlinks/fetch_error/{status.value}")
        yield from observe_failure(page.backlinks, page.url, status, reason, datetime.now(UTC))

    # Stored here, not yielded: a target check is no observation, and feeds (-O) carry observations.
    async def parse_target(self, response: Response) -> None:
        await self.run.store_target(targetcheck.judged(response))

    async def target_errback(self, failure: Failure) -> None:
        await self.run.store_target(targetcheck.failed(failure))

    def closed(self, reason: str) -> None:
        if len(self.render_seconds) >= 2:
            # How long renders take, from the page's set-up to the probe's answer (or the failure).
            cuts = statistics.quantiles(self.render_seconds, n=20, method="inclusive")
            self.crawler.stats.set_value("backlinks/render/seconds_p50", round(statistics.median(self.render_seconds), 3))
            self.crawler.stats.set_value("backlinks/render/seconds_p95", round(cuts[18], 3))
            self.crawler.stats.set_value("backlinks/render/seconds_max", round(max(self.render_seconds), 3))
        self.pages.close()


def _run_arguments(arguments: VerifyArgs) -> dict[str, Any]:
    """What the run record shows: only what was asked for (its key and this process's shard are
    not the run's arguments)."""
    return arguments.model_dump(mode="json", exclude_defaults=True, exclude={"run", "shard", "shards"})


def _raw_page(page: DuePage, probe: RenderProbe) -> Fetched | None:
    """The server's HTML of the browser's visit in plain values, if the browser handed it over."""
    if probe.raw_body is None or probe.document_url is None:
        return None
    # Decoded as Scrapy decodes any response: header charset, then <meta charset>, then sniffing.
    headers = probe.document_headers
    text = HtmlResponse(probe.document_url, headers=headers, body=probe.raw_body).text
    return Fetched(
        url=page.url, final_url=probe.document_url, http_status=probe.document_status,
        headers={name: [value] for name, value in headers.items()}, redirects=list(probe.redirect_chain),
        body=probe.raw_body, text=text,
    )


def _own_urls(page: DuePage, static: list[Observation] | None, browser_redirects: list[str]) -> list[str]:
    """The URLs that are the page itself: requested, and the redirect chains the static fetch and
    the browser's navigation followed."""
    urls = [page.url, *browser_redirects]
    facts = next((obs.page for obs in static or () if obs.page is not None), None)
    if facts is not None:
        urls += [facts.final_url, *facts.redirects]
    return urls

