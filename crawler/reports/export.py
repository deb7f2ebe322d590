"""Export rows as CSV or JSON Lines: the stable contract reporting tools read."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from crawler.reports.tables import BIDI_CHARACTERS

# Spreadsheet apps run a cell starting with these as a formula; text from crawled pages must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# CSV on a terminal: what a terminal would act on becomes U+FFFD; tab and newline are CSV's own.
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CHARACTERS}]")
# JSON Lines: json.dumps escapes C0 controls but not C1 or bidi controls; escaped too, they stay
# the same data for a JSON reader and are inert when the line is shown.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{BIDI_CHARACTERS}]")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        value = "|".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def terminal_cell(cell: str) -> str:
    return _TERMINAL_UNSAFE.sub("\ufffd", cell)


def json_line(row: dict[str, Any]) -> str:
    text = json.dumps(row, default=_json_default, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def write_rows(
    rows: Iterable[dict[str, Any]], fields: Sequence[str], fmt: str, out: TextIO, *, terminal: bool = False,
    delimiter: str = ",",
) -> int:
    """Write rows in ``fmt`` (csv | jsonl); returns how many were written. ``terminal``: ``out``
    may be shown as it is written (stdout): CSV cells lose what a terminal would act on. A file
    keeps the data; JSON Lines keep it either way, escaped. ``delimiter``: CSV's (";" where a
    spreadsheet's locale uses the comma for decimals)."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
        writer.writerow(fields)
        for row in rows:
            cells = [csv_cell(row[name]) for name in fields]
            writer.writerow([terminal_cell(cell) for cell in cells] if terminal else cells)
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json_line({name: row[name] for name in fields}))
            out.write("\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")
    return count
