"""Finding columns by name, the way the tools' labels drift between versions and users' edits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from crawler.core.importers.base import ImportFormatError, RowError

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise(name: str) -> str:
    """``" \\ufeff'Referring_Page URL' "`` -> ``"referring page url"``."""
    name = name.strip().lstrip("\ufeff").strip().strip("\"'").strip()
    return _SEPARATORS.sub(" ", name.casefold())


class Header:
    """The header row of a delimited export."""

    def __init__(self, cells: Sequence[str]) -> None:
        self.labels = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
        self.names = [normalise(cell) for cell in cells]
        self._index: dict[str, int] = {}
        for i, name in enumerate(self.names):
            self._index.setdefault(name, i)  # the first of duplicate labels wins

    def __len__(self) -> int:
        return len(self.names)

    def find(self, *aliases: str) -> int | None:
        for alias in aliases:
            if (i := self._index.get(alias)) is not None:
                return i
        return None

    def has(self, *aliases: str) -> bool:
        return self.find(*aliases) is not None

    def require(self, fmt: str, *aliases: str) -> int:
        i = self.find(*aliases)
        if i is None:
            found = ", ".join(repr(label) for label in self.labels)
            raise ImportFormatError(
                f"{fmt}: no {aliases[0]!r} column in the header (found {found}); "
                f"is this the right file or --format?"
            )
        return i


@dataclass(frozen=True, slots=True)
class Sample:
    """The header and the first rows of a file, for recognising and binding a format."""

    header: Header
    header_line: int
    delimiter: str
    rows: list[list[str]] = field(default_factory=list)


def cell(cells: Sequence[str], index: int | None) -> str | None:
    return None if index is None else cells[index]


def check_width(cells: Sequence[str], header: Header) -> Sequence[str]:
    """Line a row's cells up with the header.

    A short row is padded: its cells keep their places (hand-written CSVs omit trailing empty
    cells). A long row is rejected unless the extra cells are empty (spreadsheets pad rows):
    something in it has shifted, so every value after the shift would be misread.
    """
    width = len(header)
    if len(cells) < width:
        return [*cells, *([""] * (width - len(cells)))]
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        raise RowError(f"expected {width} columns, found {len(cells)} (an unquoted delimiter in a field?)")
    return cells[:width]
