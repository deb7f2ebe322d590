"""Pure extraction from a parsed page: its links and its facts. No Scrapy, no clock, no network."""

from crawler.core.extract.html import parse_html
from crawler.core.extract.links import LinkScan, scan_links
from crawler.core.extract.page import effective_follow, extract_page, is_html, looks_like_challenge

__all__ = [
    "LinkScan",
    "effective_follow",
    "extract_page",
    "is_html",
    "looks_like_challenge",
    "parse_html",
    "scan_links",
]
