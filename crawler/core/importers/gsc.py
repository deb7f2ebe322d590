"""Google Search Console, Links report exports.

Search Console translates the headers to the UI language ("Linking page", "Verweisende Seite",
"Page d'origine"...), so columns are recognised by what the first rows hold, never by label:

- "Latest links" / "More sample links": a column of page URLs and a column of dates. Imported.
- "Top linking sites": hosts and counts (with thousands separators); "Top linked pages": your own
  URLs and counts. Neither names a linking page, so both are refused with a pointer to the right export.

No export names the target: every link points at the user's site, which ``--target`` gives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from crawler.core.importers.base import Convert, ImportFormatError, Options, make_backlink
from crawler.core.importers.header import Sample, check_width
from crawler.core.items import BacklinkIn

NAME = "gsc"

_URL = re.compile(r"[a-z][a-z0-9+.-]*:\S+", re.IGNORECASE)  # any scheme: row checks refuse the bad ones
_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}"  # 2024-03-15
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"  # 15.03.2024, 3/15/24
    r"|(?=.*[^\W\d_]).*\b\d{4}\b.*"  # Mar 15, 2024 / 15 mars 2024: words and a year
)
_COUNT = re.compile(r"\d+|\d{1,3}(?:[,.'\s\u00a0\u202f]\d{3})+")  # 1234, 1,234, 1.234, 1 234
_HOST = re.compile(r"[^\s/:@]+\.[^\s/:@]+")

_EXPORT_HINT = "in Search Console open Links, 'Export external links', and choose 'Latest links'"


def _kind(value: str) -> str:
    value = value.strip()
    for kind, pattern in (("url", _URL), ("date", _DATE), ("count", _COUNT), ("host", _HOST)):
        if pattern.fullmatch(value):
            return kind
    return "text"


def column_kinds(sample: Sample) -> list[str | None]:
    """For each column, the kind most of its non-empty sample values share, or ``None``."""
    kinds: list[str | None] = []
    for i in range(len(sample.header)):
        seen = Counter(_kind(row[i]) for row in sample.rows if i < len(row) and row[i].strip())
        top = seen.most_common(1)
        # A majority, so one odd value (a row the import will reject) does not hide the column.
        kinds.append(top[0][0] if top and top[0][1] * 2 > seen.total() else None)
    return kinds


def _links_columns(kinds: list[str | None]) -> bool:
    return "url" in kinds and "date" in kinds and len(kinds) <= 3


def _summary(kinds: list[str | None]) -> str | None:
    """Which site-level export this is, if it is one."""
    if len(kinds) == 3 and kinds[1:] == ["count", "count"]:
        if kinds[0] == "host":
            return "Top linking sites"
        if kinds[0] == "url":
            return "Top linked pages"
    return None


def recognises(sample: Sample) -> bool:
    kinds = column_kinds(sample)
    return _links_columns(kinds) or _summary(kinds) is not None


def bind(sample: Sample, options: Options) -> Convert:
    kinds = column_kinds(sample)
    summary = _summary(kinds)
    if summary is not None:
        raise ImportFormatError(
            f"this is Search Console's {summary!r} export: it has counts, not the URLs of the pages "
            f"that link to you; {_EXPORT_HINT}"
        )
    if options.target is None:
        raise ImportFormatError(
            "Search Console exports do not say which page is linked; pass --target https://your-site.com/"
        )
    # A header-only file has no values to look at; Search Console puts the linking page first.
    url = kinds.index("url") if "url" in kinds else 0
    header = sample.header

    def convert(cells: Sequence[str]) -> BacklinkIn:
        cells = check_width(cells, header)
        return make_backlink(NAME, options, referring_url=cells[url])

    return convert
