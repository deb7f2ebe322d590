"""Ahrefs backlinks export: UTF-16LE with BOM, tab-separated and quoted, or re-saved as UTF-8 CSV.

Current files have ``Referring page URL``, ``Target URL``, ``Anchor`` and the booleans ``Nofollow``,
``UGC``, ``Sponsored``; older ones ``URL To``, ``Link type`` and ``Dofollow``.
"""

from __future__ import annotations

from crawler.core.importers.base import Convert, Options
from crawler.core.importers.header import Sample
from crawler.core.importers.tool import ToolColumns

NAME = "ahrefs"
COLUMNS = ToolColumns(
    name=NAME,
    referring=("referring page url", "url from"),
    target=("target url", "url to", "link url"),
    anchor=("anchor", "link anchor", "anchor text"),
    flags={"nofollow": ("nofollow",), "sponsored": ("sponsored",), "ugc": ("ugc",)},
    dofollow=("dofollow",),
    rel_text=("link type",),  # old files: harmless when it holds "text" or "image"
    metrics={
        "domain_rating": ("domain rating", "dr"), "url_rating": ("url rating", "ur"),
        "domain_traffic": ("domain traffic",), "page_traffic": ("page traffic",),
        "referring_domains": ("referring domains",), "linked_domains": ("linked domains",),
        "external_links": ("external links",), "source_title": ("referring page title",),
        "vendor_first_seen": ("first seen",), "vendor_last_seen": ("last seen",),
    },
)


def recognises(sample: Sample) -> bool:
    return COLUMNS.has_link_columns(sample.header)


def bind(sample: Sample, options: Options) -> Convert:
    return COLUMNS.bind(sample, options)
