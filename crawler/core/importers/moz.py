"""Moz (legacy Open Site Explorer) inbound links: a report preamble, then
``URL,Title,Anchor Text,...,Target URL,...``; the header is found below the preamble by name.
"""

from __future__ import annotations

from crawler.core.importers.base import Convert, Options
from crawler.core.importers.header import Sample
from crawler.core.importers.tool import ToolColumns

NAME = "moz"
COLUMNS = ToolColumns(
    name=NAME,
    referring=("url",),
    target=("target url",),
    anchor=("anchor text",),
    flags={"nofollow": ("nofollow",)},
    rel_text=("link type", "link types", "link type(s)"),  # e.g. "nofollow, 301"
    metrics={
        "domain_authority": ("domain authority", "da"), "page_authority": ("page authority", "pa"),
        "spam_score": ("spam score",), "source_title": ("title",),
    },
)


def recognises(sample: Sample) -> bool:
    header = sample.header
    return COLUMNS.has_link_columns(header) and header.has("title", "anchor text")


def bind(sample: Sample, options: Options) -> Convert:
    return COLUMNS.bind(sample, options)
