"""Reading any delimited export once its format module is chosen: header, then record by record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from crawler.core.importers.base import Convert, ImportRow, Options, RowError
from crawler.core.importers.header import Sample
from crawler.core.importers.records import read_records
from crawler.core.importers.text import Head, numbered_lines, open_text


class TabularFormat(Protocol):
    """What a delimited-format module provides (the modules themselves satisfy this)."""

    NAME: str

    def recognises(self, sample: Sample) -> bool: ...

    def bind(self, sample: Sample, options: Options) -> Convert:
        """Map the header's columns, or raise ImportFormatError naming what is missing."""
        ...


def read_tabular(
    path: Path, head: Head, sample: Sample, fmt: TabularFormat, options: Options
) -> Iterator[ImportRow]:
    convert = fmt.bind(sample, options)  # before any row, so a whole-file error comes first
    return _rows(path, head, sample, convert)


def _rows(path: Path, head: Head, sample: Sample, convert: Convert) -> Iterator[ImportRow]:
    with open_text(path, head.encoding) as stream:
        lines = numbered_lines(stream)
        for number, _ in lines:  # the preamble and the header
            if number == sample.header_line:
                break
        for record in read_records(lines, sample.delimiter, head.encoding):
            if record.cells is None:
                yield ImportRow(record.line, error=record.error)
                continue
            try:
                yield ImportRow(record.line, backlink=convert(record.cells))
            except RowError as exc:
                yield ImportRow(record.line, error=str(exc))
