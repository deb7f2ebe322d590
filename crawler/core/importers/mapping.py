"""``--map "Source URL=referring_url,Link To=target_url"``: any export read as our CSV.

A layout no importer knows (a CRM's export, an agency's sheet) names its columns its own way; the
user says which column is which of our fields, and the file's header is read with those labels
replaced. Labels compare as the importers compare them (case, spaces, ``_`` and ``-`` ignored).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crawler.core.importers.base import ImportFormatError
from crawler.core.importers.header import normalise
from crawler.core.importers.ours import FIELDS

ColumnMap = Mapping[str, str]  # normalised file label -> one of ours.FIELDS


def parse_column_map(specs: Iterable[str]) -> dict[str, str]:
    """``["Source URL=referring_url,Link To=target_url", ...]`` -> ``{"source url": "referring_url", ...}``."""
    mapping: dict[str, str] = {}
    for spec in specs:
        for pair in spec.split(","):
            if not pair.strip():
                continue
            label, sep, field = pair.partition("=")
            label, field = normalise(label), field.strip().lower()
            if not sep or not label or not field:
                raise ImportFormatError(f"--map {pair.strip()!r}: write COLUMN=FIELD, e.g. 'Source URL=referring_url'")
            if field not in FIELDS:
                raise ImportFormatError(f"--map {pair.strip()!r}: {field!r} is not one of {', '.join(FIELDS)}")
            if mapping.get(label, field) != field:
                raise ImportFormatError(f"--map: column {label!r} is mapped twice")
            if field in mapping.values() and mapping.get(label) != field:
                raise ImportFormatError(f"--map: two columns are mapped to {field}")
            mapping[label] = field
    if mapping and "referring_url" not in mapping.values():
        raise ImportFormatError("--map: say which column is referring_url")
    return mapping


def relabel(cells: list[str], mapping: ColumnMap) -> list[str]:
    """A header row with the mapped labels replaced by our field names; other columns are kept
    (our CSV ignores columns it does not know)."""
    return [mapping.get(normalise(cell), cell) for cell in cells]
