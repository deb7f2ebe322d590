"""Splitting delimited text into records, one bad record at a time.

Python's csv reader, fed a whole file, lets one unbalanced quote swallow every following row until
the field size limit; exports from Majestic and hand-edited spreadsheets do contain such rows. So
each record is parsed on its own: a line is extended with the next lines only while it ends inside
a quoted field, at most ``MAX_RECORD_LINES`` of them; past that the start line is reported and
reading resumes on the line after it.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from crawler.core.importers.text import too_long_message, undecodable, undecodable_message

MAX_RECORD_LINES = 50  # a quoted field spanning more lines is taken to be an unclosed quote
DELIMITERS = (",", "\t", ";")


class Record(NamedTuple):
    line: int  # where the record starts
    cells: list[str] | None
    error: str | None


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line into the most cells (comma on a tie)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])  # max() keeps the first of equal counts


def read_records(lines: Iterator[tuple[int, str | None]], delimiter: str, encoding: str) -> Iterator[Record]:
    """Yield one :class:`Record` per non-blank record of ``lines``."""
    pushed_back: deque[tuple[int, str | None]] = deque()

    def next_line() -> tuple[int, str | None] | None:
        return pushed_back.popleft() if pushed_back else next(lines, None)

    while (first := next_line()) is not None:
        start, text = first
        if text is None:
            yield Record(start, None, too_long_message())
            continue
        taken: list[tuple[int, str | None]] = [first]
        cells: list[str] | None = None
        error: str | None = None
        while cells is None and error is None:
            try:
                cells = _split(text, delimiter)
            except csv.Error as exc:
                if str(exc) != "unexpected end of data":
                    error = f"broken quoting: {exc}"
                    continue
                following = next_line()
                if following is not None:
                    taken.append(following)
                if following is None or following[1] is None or len(taken) > MAX_RECORD_LINES:
                    error = "unclosed quote"
                else:
                    text += following[1]
        if cells is None:
            # Everything after the start line gets its own chance to parse.
            pushed_back.extendleft(reversed(taken[1:]))
            yield Record(start, None, error)
        elif not any(cell.strip() for cell in cells):
            continue
        elif undecodable(text):
            yield Record(start, None, undecodable_message(encoding))
        else:
            yield Record(start, cells, None)


def _split(text: str, delimiter: str) -> list[str]:
    """The cells of one record; raises csv.Error, "unexpected end of data" if a quote is open."""
    if '"' not in text:  # the common case, ten times faster than csv
        return text.rstrip("\r\n").split(delimiter)
    return next(csv.reader([text], delimiter=delimiter, strict=True))
