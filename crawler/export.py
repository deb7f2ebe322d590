"""Export rows as CSV or JSON Lines: the stable contract reporting tools read."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

# Spreadsheet apps run a cell starting with these as a formula; text from crawled pages must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def write_rows(rows: Iterable[dict[str, Any]], fields: Sequence[str], fmt: str, out: TextIO) -> int:
    """Write rows in ``fmt`` (csv | jsonl); returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            writer.writerow([csv_cell(row[name]) for name in fields])
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({name: row[name] for name in fields}, default=_json_default, ensure_ascii=False))
            out.write("\n")
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}: use csv or jsonl")
    return count
