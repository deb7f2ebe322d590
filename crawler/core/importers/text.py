"""Turning an export's bytes into numbered text lines, whatever encoding the tool wrote.

Exports come as UTF-8 (with or without BOM), UTF-16 with BOM (Ahrefs), or a legacy Windows code page
(a spreadsheet re-save). The encoding is chosen once from the first bytes; bytes that do not decode
later on become lone surrogates, so the row holding them is rejected instead of the whole import.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

HEAD_BYTES = 64 * 1024  # enough for a preamble, the header and a sample of rows
MAX_LINE_CHARS = 1024 * 1024  # a longer physical line is rejected, so memory stays bounded

_ERRORS = "backlinks-importers-mark"


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    # Like "surrogateescape", but for every byte and every codec (UTF-16 included).
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(_ERRORS, _mark_undecodable)

_UNDECODABLE = re.compile("[\ud800-\udfff]")


def undecodable(text: str) -> bool:
    return _UNDECODABLE.search(text) is not None


def sniff_encoding(head: bytes, *, complete: bool) -> str:
    """Pick a codec from the first bytes; ``complete`` says ``head`` is the whole file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM for the byte order and drops it
    # UTF-16 without BOM: ASCII-heavy text has a NUL in every other byte.
    even, odd = head[0:512:2], head[1:512:2]
    if len(odd) >= 4:
        if odd.count(0) > len(odd) * 0.6 and even.count(0) < len(even) * 0.1:
            return "utf-16-le"
        if even.count(0) > len(even) * 0.6 and odd.count(0) < len(odd) * 0.1:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        # Spreadsheet software on Windows saves "CSV" in the ANSI code page.
        return "cp1252"
    return "utf-8"


@dataclass(frozen=True, slots=True)
class Head:
    """The decoded start of a file, cut at the last complete line."""

    encoding: str
    text: str

    def lines(self) -> Iterator[tuple[int, str | None]]:
        return numbered_lines(io.StringIO(self.text, newline=""))


def read_head(path: Path) -> Head:
    with path.open("rb") as raw:
        data = raw.read(HEAD_BYTES + 1)
    complete = len(data) <= HEAD_BYTES
    data = data[:HEAD_BYTES]
    encoding = sniff_encoding(data, complete=complete)
    text = codecs.getincrementaldecoder(encoding)(errors=_ERRORS).decode(data, final=complete)
    if not complete:
        # Drop the partial last line so sniffing never sees half a row.
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut >= 0 else text
    return Head(encoding=encoding, text=text)


def open_text(path: Path, encoding: str) -> TextIO:
    # newline="" keeps "\r\n" inside quoted fields intact for the CSV reader.
    return path.open("r", encoding=encoding, errors=_ERRORS, newline="")


def numbered_lines(stream: TextIO) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line number, line with its ending)``; ``None`` stands for an over-long line."""
    number = 0
    while line := stream.readline(MAX_LINE_CHARS):
        number += 1
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                pass
            yield number, None
        else:
            yield number, line


def too_long_message() -> str:
    return f"line longer than {MAX_LINE_CHARS // (1024 * 1024)} MiB"


def undecodable_message(encoding: str) -> str:
    shown = {"utf-8-sig": "utf-8", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(encoding, encoding)
    return f"bytes that are not valid {shown}; save the file as UTF-8"
