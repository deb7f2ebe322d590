"""Reading one import file: its format settled (:mod:`crawler.core.importers.detect`), then its rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.core.importers.base import ImportFormatError, ImportRow, Options
from crawler.core.importers.detect import sniff
from crawler.core.importers.mapping import ColumnMap
from crawler.core.importers.formats import SITE_TARGET_FORMATS, TABULAR
from crawler.core.importers.ours import read_json
from crawler.core.importers.plain import read_list
from crawler.core.importers.tabular import read_tabular
from crawler.core.items import MatchMode
from crawler.core.urls import InvalidURL, check_url, site_url


@dataclass(frozen=True, slots=True)
class ImportFile:
    """An import file as it was read: what was detected, and its rows (read as they are iterated)."""

    format: str
    encoding: str  # the codec the bytes were decoded with
    delimiter: str | None  # None: JSON or a plain list
    rows: Iterator[ImportRow]


def read_backlinks(
    path: Path,
    *,
    format: str | None = None,
    target: str | None = None,
    match: MatchMode | None = None,
    columns: ColumnMap | None = None,
) -> Iterator[ImportRow]:
    """Yield one :class:`ImportRow` per record of ``path``, in file order (see :func:`open_backlinks`)."""
    return open_backlinks(path, format=format, target=target, match=match, columns=columns).rows


def open_backlinks(
    path: Path,
    *,
    format: str | None = None,
    target: str | None = None,
    match: MatchMode | None = None,
    columns: ColumnMap | None = None,
) -> ImportFile:
    """Settle the format of ``path`` and bind its columns; its rows come one :class:`ImportRow` per
    record, in file order.

    ``format`` is one of :data:`~crawler.core.importers.formats.FORMATS` (detected when ``None``);
    ``target`` replaces every row's target URL and is required for ``gsc`` and ``list``; ``match``
    replaces every row's match mode (for ``gsc`` and ``list`` it defaults to ``domain``: those
    files name no target page). ``columns`` (``--map``) says which of the file's columns are which
    of our fields: the file is read as our CSV.
    """
    path = Path(path)
    sniffed = sniff(path, format, columns)
    match = _checked_match(match)
    if match is None and sniffed.format in SITE_TARGET_FORMATS:
        # Any link to the site counts, or every deep link would be reported missing.
        match = MatchMode.DOMAIN
    options = Options(target=_checked_target(target, match), match=match)
    encoding = sniffed.head.encoding
    if sniffed.format == "json":
        return ImportFile("json", encoding, None, read_json(path, sniffed.head, options))
    if sniffed.format == "list":
        return ImportFile("list", encoding, None, read_list(path, sniffed.head, options))
    assert sniffed.sample is not None  # sniff() samples every delimited format
    rows = read_tabular(path, sniffed.head, sniffed.sample, TABULAR[sniffed.format], options)
    return ImportFile(sniffed.format, encoding, sniffed.sample.delimiter, rows)


def _checked_target(target: str | None, match: MatchMode | None) -> str | None:
    if target is None:
        return None
    try:
        return site_url(target) if match is MatchMode.DOMAIN else check_url(target)
    except InvalidURL as exc:
        raise ImportFormatError(f"--target: {exc}") from None


def _checked_match(match: MatchMode | str | None) -> MatchMode | None:
    if match is None:
        return None
    try:
        return MatchMode(match)
    except ValueError:
        allowed = ", ".join(m.value for m in MatchMode)
        raise ImportFormatError(f"--match: {match!r} is not one of {allowed}") from None
