"""Periodic progress of a verify run in the log: backlinks stored so far, per status."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler.shell.config import BacklinksSettings

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)
PREFIX = "backlinks/status/"


def progress_line(stats: dict[str, object]) -> str:
    """'1200 backlinks stored from 950 pages: live 1100, timeout 12, ...' (largest first)."""
    per_status = {k[len(PREFIX):]: int(v) for k, v in stats.items() if k.startswith(PREFIX)}  # type: ignore[call-overload]
    detail = ", ".join(f"{status} {n}" for status, n in sorted(per_status.items(), key=lambda kv: -kv[1]))
    stored = stats.get("backlinks/stored", 0)
    pages = stats.get("response_received_count", 0)
    return f"{stored} backlinks stored, {pages} responses" + (f": {detail}" if detail else "")


class Progress:
    def __init__(self, stats: StatsCollector, interval: float):
        self.stats = stats
        self.interval = interval
        self.task = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = BacklinksSettings.from_crawler(crawler).BACKLINKS_PROGRESS_SECONDS
        if not interval:
            raise NotConfigured
        extension = cls(crawler.stats, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.task = create_looping_call(self.log)
        self.task.start(self.interval, now=False)

    def log(self) -> None:
        logger.info(progress_line(self.stats.get_stats()))

    def spider_closed(self) -> None:
        if self.task and self.task.running:
            self.task.stop()
