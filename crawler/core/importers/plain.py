"""A plain list of referring URLs, one per line; ``#`` starts a comment line. The target comes
from the caller, since the file has none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crawler.core.importers.base import ImportFormatError, ImportRow, Options, RowError, make_backlink
from crawler.core.importers.text import (
    Head,
    numbered_lines,
    open_text,
    too_long_message,
    undecodable,
    undecodable_message,
)

NAME = "list"


def read_list(path: Path, head: Head, options: Options) -> Iterator[ImportRow]:
    if options.target is None:
        raise ImportFormatError(
            "a list of URLs does not say which page is linked; pass --target https://your-site.com/"
        )
    return _rows(path, head, options)


def _rows(path: Path, head: Head, options: Options) -> Iterator[ImportRow]:
    with open_text(path, head.encoding) as stream:
        for line, text in numbered_lines(stream):
            if text is None:
                yield ImportRow(line, error=too_long_message())
                continue
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            if undecodable(text):
                yield ImportRow(line, error=undecodable_message(head.encoding))
                continue
            try:
                yield ImportRow(line, backlink=make_backlink(NAME, options, referring_url=text))
            except RowError as exc:
                yield ImportRow(line, error=str(exc))
