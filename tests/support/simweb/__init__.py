"""A simulated web for tests and benchmarks: thousands of fake sites on one loopback server.

See :mod:`tests.support.simweb.model` (pages and backlinks from a seed), :mod:`tests.support.simweb.server`
(serving it) and :mod:`tests.support.simweb.backlinks` (the known backlinks, as our import CSV).
"""

from tests.support.simweb.backlinks import iter_backlinks, iter_pages, write_backlinks_csv
from tests.support.simweb.model import Kind, SimConfig, expected, page_at, page_by_index, robots_txt
from tests.support.simweb.server import SimWeb, SimWebProcess

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
