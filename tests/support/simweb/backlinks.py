"""Known backlinks of the simulated web: as many as asked, several per page, many per host.

Pages are taken in :func:`~tests.support.simweb.model.page_by_index` order (round-robin over the sites),
each with all its backlinks, so ``count`` backlinks cover about ``count / 3`` pages on
``min(sites, pages)`` hosts. The last page may contribute only some of its backlinks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tests.support.simweb.model import SimBacklink, SimConfig, SimPage, page_by_index

CSV_HEADER = ("referring_url", "target_url", "match", "tags")
TAG = "simweb"


class KnownBacklink(NamedTuple):
    referring_url: str
    page: SimPage
    backlink: SimBacklink


def iter_backlinks(config: SimConfig, port: int, count: int) -> Iterator[KnownBacklink]:
    """The first ``count`` known backlinks of the web served on ``port``."""
    left = count
    index = 0
    while left > 0:
        page = page_by_index(config, index)
        url = page.url(port)
        for backlink in page.backlinks[:left]:
            yield KnownBacklink(url, page, backlink)
        left -= min(left, len(page.backlinks))
        index += 1


def iter_pages(config: SimConfig, count: int) -> Iterator[SimPage]:
    """The pages :func:`iter_backlinks` draws ``count`` backlinks from, each once."""
    left = count
    index = 0
    while left > 0:
        page = page_by_index(config, index)
        yield page
        left -= min(left, len(page.backlinks))
        index += 1


def write_backlinks_csv(path: Path, config: SimConfig, port: int, count: int) -> int:
    """Write ``count`` known backlinks in our import format (``backlinks import``); returns the
    number of distinct referring pages."""
    pages = set()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for known in iter_backlinks(config, port, count):
            pages.add(known.referring_url)
            writer.writerow((known.referring_url, known.backlink.target_url, known.backlink.match.value, TAG))
    return len(pages)
