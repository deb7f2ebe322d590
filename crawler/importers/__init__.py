"""Importing known backlinks from our own files and from backlink tools' exports.

Every format streams: memory stays bounded whatever the file size. A whole-file problem raises
:class:`ImportFormatError` when :func:`read_backlinks` is called, before any row; a bad row is
yielded as an :class:`ImportRow` with an ``error`` and reading goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crawler.importers.base import ImportFormatError, ImportRow, Options
from crawler.importers.detect import FORMATS, TABULAR, detect_format, sniff
from crawler.importers.ours import read_json
from crawler.importers.plain import read_list
from crawler.importers.tabular import read_tabular
from crawler.items import MatchMode
from crawler.urls import InvalidURL, check_url

__all__ = ["FORMATS", "ImportFormatError", "ImportRow", "detect_format", "read_backlinks"]


def read_backlinks(
    path: Path,
    *,
    format: str | None = None,
    target: str | None = None,
    match: MatchMode | None = None,
) -> Iterator[ImportRow]:
    """Yield one :class:`ImportRow` per record of ``path``, in file order.

    ``format`` is one of :data:`FORMATS` (detected when ``None``); ``target`` replaces every row's
    target URL and is required for ``gsc`` and ``list``; ``match`` replaces every row's match mode.
    """
    path = Path(path)
    options = Options(target=_checked_target(target), match=_checked_match(match))
    sniffed = sniff(path, format)
    if sniffed.format == "json":
        return read_json(path, sniffed.head, options)
    if sniffed.format == "list":
        return read_list(path, sniffed.head, options)
    assert sniffed.sample is not None  # sniff() samples every delimited format
    return read_tabular(path, sniffed.head, sniffed.sample, TABULAR[sniffed.format], options)


def _checked_target(target: str | None) -> str | None:
    if target is None:
        return None
    try:
        return check_url(target)
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
