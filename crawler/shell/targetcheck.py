"""The spider's side of target health (crawler/core/targets.py): which of the user's own pages this
process checks, and their requests.

Each distinct target URL of the due backlinks, as the pages stream in, and each listed own page
(``BACKLINKS_OWN_PAGES``) is claimed in the run (pipelines/targets.py), so the processes of one run
check it once between them, and fetched in its own download slot (``BACKLINKS_TARGET_*`` set its
politeness, crawler/shell/addon.py), so the user's own site is never hit at the crawl's pace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.core.items import DuePage
from crawler.core.targets import TargetCheck, judge_target, target_failure
from crawler.shell.failures import classify_failure
from crawler.shell.responses import as_fetched
from crawler.shell.runservice import RunService

TARGET_SLOT = "backlinks-targets"
TARGET_META = "backlinks_target"
CLAIM_EVERY = 100  # new URLs claimed in one transaction while the due pages stream in


class TargetChecks:
    def __init__(
        self, service: RunService, own_pages: Iterable[str], enabled: bool,
        callback: Callable[..., Any], errback: Callable[..., Any],
    ) -> None:
        self.service = service
        self.enabled = enabled
        self.callback, self.errback = callback, errback
        self.seen: set[str] = set()
        self.pending: list[str] = []
        if enabled:
            self._add(own_pages)

    def note(self, page: DuePage) -> None:
        if self.enabled:
            self._add(b.target_url for b in page.backlinks)

    def _add(self, urls: Iterable[str]) -> None:
        for url in urls:
            if url not in self.seen:
                self.seen.add(url)
                self.pending.append(url)

    async def requests(self, *, final: bool = False) -> list[Request]:
        """Requests for the URLs noted since the last call that this process claimed; before the
        last call, only once enough have gathered."""
        if not self.pending or (len(self.pending) < CLAIM_EVERY and not final):
            return []
        urls, self.pending = self.pending, []
        claimed = await self.service.claim_targets(urls)
        return [
            Request(url, callback=self.callback, errback=self.errback, dont_filter=True,
                    meta={TARGET_META: url, "download_slot": TARGET_SLOT})
            for url in claimed
        ]


def judged(response: Response) -> TargetCheck:
    return judge_target(as_fetched(response.meta[TARGET_META], response), datetime.now(UTC))


def failed(failure: Failure) -> TargetCheck:
    status, reason = classify_failure(failure.value)
    return target_failure(failure.request.meta[TARGET_META], status, reason, datetime.now(UTC))  # type: ignore[attr-defined]
