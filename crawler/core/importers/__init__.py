"""Importing known backlinks from our own files and from backlink tools' exports.

Every format streams: memory stays bounded whatever the file size. A whole-file problem raises
:class:`ImportFormatError` when :func:`read_backlinks` is called, before any row; a bad row is
yielded as an :class:`ImportRow` with an ``error`` and reading goes on.
"""

from crawler.core.importers.base import ImportFormatError, ImportRow
from crawler.core.importers.detect import detect_format
from crawler.core.importers.formats import FORMATS
from crawler.core.importers.mapping import parse_column_map
from crawler.core.importers.read import ImportFile, open_backlinks, read_backlinks

__all__ = [
    "FORMATS", "ImportFile", "ImportFormatError", "ImportRow", "detect_format", "open_backlinks", "parse_column_map",
    "read_backlinks",
]
