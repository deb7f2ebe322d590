"""Telling the formats apart from the first 64 KiB of a file.

Order of evidence: a JSON extension or a leading ``[``/``{``; a header line whose labels one tool
uses (searched through the first lines, which skips Moz's preamble); a first line that is a URL
or a comment (a plain list); Search Console's URL-and-date columns; a ``.txt`` extension.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from crawler.core.importers.base import ImportFormatError
from crawler.core.importers.formats import FORMATS, TABULAR
from crawler.core.importers.header import Header, Sample
from crawler.core.importers.mapping import ColumnMap, relabel
from crawler.core.importers.records import read_records, sniff_delimiter
from crawler.core.importers.text import Head, read_head

_BY_HEADER = ("csv", "ahrefs", "semrush", "majestic", "moz")  # recognised by their labels alone

MAX_PREAMBLE_LINES = 10  # Moz writes six
SAMPLE_ROWS = 20
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: str
    head: Head
    sample: Sample | None  # for the delimited formats


def sniff(path: Path, format: str | None = None, columns: ColumnMap | None = None) -> Sniffed:
    """Read the head of ``path`` and settle its format (``format`` if given) and header.

    ``columns`` (``--map``) renames header labels to our fields: the file is read as our CSV."""
    if columns:
        format = format or "csv"
        if format != "csv":
            raise ImportFormatError(f"--map reads a file as our csv format, not as {format}")
    if format is not None and format not in FORMATS:
        raise ImportFormatError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    head = read_head(path)
    if not head.text.strip("\ufeff \t\r\n"):
        raise ImportFormatError(f"{path.name} is empty")
    if format in ("json", "list"):
        return Sniffed(format, head, None)
    if format is None and (
        path.suffix.lower() in _JSON_SUFFIXES or head.text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")
    ):
        return Sniffed("json", head, None)

    candidates = _header_lines(head)
    relabel_ = (lambda cells: relabel(cells, columns)) if columns else None
    if format is not None:
        fmt = TABULAR[format]
        for number, text in candidates:
            if fmt.recognises(sample := _sample(head, number, text, relabel_=relabel_)):
                return Sniffed(format, head, sample)
        # Bind the first line, so the error names the columns that are missing.
        number, text = candidates[0]
        return Sniffed(format, head, _sample(head, number, text, relabel_=relabel_))

    for number, text in candidates:
        header_only = _sample(head, number, text, rows=0)
        found = [name for name in _BY_HEADER if TABULAR[name].recognises(header_only)]
        if len(found) > 1:
            raise ImportFormatError(
                f"{path.name} could be {' or '.join(found)}; pass --format with the right one"
            )
        if found:
            return Sniffed(found[0], head, _sample(head, number, text, relabel_=relabel_))

    number, first = candidates[0]
    if first.lstrip("\ufeff \t").lower().startswith(("http://", "https://", "#")):
        return Sniffed("list", head, None)
    if TABULAR["gsc"].recognises(sample := _sample(head, number, first)):
        return Sniffed("gsc", head, sample)
    if path.suffix.lower() == ".txt":
        return Sniffed("list", head, None)
    raise ImportFormatError(
        f"cannot tell the format of {path.name} (first line {first.strip()[:80]!r}); "
        f"pass --format with one of {', '.join(FORMATS)}"
    )


def detect_format(path: Path) -> str:
    return sniff(path).format


def _header_lines(head: Head) -> list[tuple[int, str]]:
    """The first non-blank lines, any of which may be the header."""
    lines = ((n, t) for n, t in head.lines() if t is not None and t.strip("\ufeff \t\r\n"))
    return list(islice(lines, MAX_PREAMBLE_LINES))


def _sample(
    head: Head, number: int, text: str, rows: int = SAMPLE_ROWS, relabel_: Callable[[list[str]], list[str]] | None = None
) -> Sample:
    delimiter = sniff_delimiter(text)
    cells = next(csv.reader([text], delimiter=delimiter))
    header = Header(relabel_(cells) if relabel_ else cells)
    lines = head.lines()
    for n, _ in lines:
        if n == number:
            break
    records = (r.cells for r in read_records(lines, delimiter, head.encoding) if r.cells is not None)
    return Sample(header, number, delimiter, list(islice(records, rows)))
