"""Semrush backlinks export: ``Page ascore,Source title,Source url,Target url,Anchor,...``.

Labels and order change between versions, so columns are found by name only.
"""

from __future__ import annotations

from crawler.core.importers.base import Convert, Options
from crawler.core.importers.header import Sample
from crawler.core.importers.tool import ToolColumns

NAME = "semrush"
COLUMNS = ToolColumns(
    name=NAME,
    referring=("source url",),
    target=("target url",),
    anchor=("anchor", "anchor text"),
    flags={"nofollow": ("nofollow",), "sponsored": ("sponsored",), "ugc": ("ugc",)},
    metrics={
        "page_ascore": ("page ascore", "page as"), "source_title": ("source title",),
        "external_links": ("external links",), "internal_links": ("internal links",),
        "vendor_first_seen": ("first seen",), "vendor_last_seen": ("last seen",),
    },
)
# Majestic shares "Source URL" and "Target URL"; these columns exist only in Semrush files.
_OWN_COLUMNS = (
    "page ascore",
    "page as",
    "source title",
    "external links",
    "internal links",
    "new link",
    "lost link",
)


def recognises(sample: Sample) -> bool:
    return COLUMNS.has_link_columns(sample.header) and sample.header.has(*_OWN_COLUMNS)


def bind(sample: Sample, options: Options) -> Convert:
    return COLUMNS.bind(sample, options)
