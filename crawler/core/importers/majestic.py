"""Majestic download CSV: ``Target URL,Source URL,Anchor Text,...,FlagNoFollow,...`` with 0/1 flags.

Majestic reports no sponsored or ugc flag, so ``expected_rel`` is ``"nofollow"`` or ``""``.
"""

from __future__ import annotations

from crawler.core.importers.base import Convert, Options
from crawler.core.importers.header import Sample
from crawler.core.importers.tool import ToolColumns

NAME = "majestic"
COLUMNS = ToolColumns(
    name=NAME,
    referring=("source url",),
    target=("target url",),
    anchor=("anchor text", "anchor"),
    flags={"nofollow": ("flagnofollow", "flag nofollow")},
    metrics={
        "trust_flow": ("sourcetrustflow", "source trust flow", "trust flow"),
        "citation_flow": ("sourcecitationflow", "source citation flow", "citation flow"),
        "vendor_first_seen": ("source first found date", "first indexed date"),
        "vendor_last_seen": ("source crawl date", "last seen date"),
    },
)
# Semrush shares "Source URL" and "Target URL"; Majestic alone has these.
_OWN_COLUMNS = ("source crawl date", "source first found date")


def recognises(sample: Sample) -> bool:
    header = sample.header
    own = header.has(*_OWN_COLUMNS) or any(name.startswith("flag") for name in header.names)
    return own and COLUMNS.has_link_columns(header)


def bind(sample: Sample, options: Options) -> Convert:
    return COLUMNS.bind(sample, options)
