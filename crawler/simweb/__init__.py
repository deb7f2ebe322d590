"""A simulated web for tests and benchmarks: thousands of fake sites on one loopback server.

See :mod:`crawler.simweb.model` (pages and backlinks from a seed), :mod:`crawler.simweb.server`
(serving it) and :mod:`crawler.simweb.backlinks` (the known backlinks, as our import CSV).
"""

from crawler.simweb.backlinks import iter_backlinks, iter_pages, write_backlinks_csv
from crawler.simweb.model import Kind, SimConfig, expected, page_at, page_by_index, robots_txt
from crawler.simweb.server import SimWeb, SimWebProcess

__all__ = [
    "Kind",
    "SimConfig",
    "SimWeb",
    "SimWebProcess",
    "expected",
    "iter_backlinks",
    "iter_pages",
    "page_at",
    "page_by_index",
    "robots_txt",
    "write_backlinks_csv",
]
